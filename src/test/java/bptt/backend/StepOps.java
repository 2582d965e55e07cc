// StepOps: every cell's step op, forward and backward, on small tensors of one backend, for the tests that count launches.
package bptt.backend;

import bptt.tensor.Tensor;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The six step ops (one time step of one layer each) by name, in the order tanh, LSTM, GRU, forward then backward. */
final class StepOps implements AutoCloseable {
    private final Backend be;
    private final List<Tensor> tensors = new ArrayList<>();
    final Map<String, Runnable> ops = new LinkedHashMap<>();

    StepOps(Backend be, int batch, int hidden) {
        this.be = be;
        int b = batch;
        int h = hidden;
        Tensor hPrev = t(b, h), out = t(b, h), cPrev = t(b, h), c = t(b, h);
        Tensor dh = t(b, h), dnext = t(b, h), dc = t(b, h), hn = t(b, h);
        Tensor w1 = t(h, h), w4 = t(4 * h, h), w3 = t(3 * h, h);
        Tensor b1 = t(1, h), b4i = t(1, 4 * h), b4h = t(1, 4 * h), b3i = t(1, 3 * h), b3h = t(1, 3 * h);
        Tensor g4 = t(b, 4 * h), g3 = t(b, 3 * h), hh = t(b, 3 * h), dg3 = t(b, 3 * h);
        ops.put("tanhStepForward", () -> be.tanhStepForward(hPrev, w1, b1, out));
        ops.put("tanhStepBackward", () -> be.tanhStepBackward(out, w1, dh, dnext));
        ops.put("lstmStepForward", () -> be.lstmStepForward(hPrev, cPrev, w4, b4i, b4h, g4, c, out));
        ops.put("lstmStepBackward", () -> be.lstmStepBackward(g4, cPrev, c, w4, dh, dc, dnext));
        ops.put("gruStepForward", () -> be.gruStepForward(hPrev, w3, b3i, b3h, g3, hh, hn, out));
        ops.put("gruStepBackward", () -> be.gruStepBackward(g3, hn, hPrev, w3, dh, dg3, dnext));
    }

    private Tensor t(int rows, int cols) {
        Tensor x = be.alloc(rows, cols);
        tensors.add(x);
        return x;
    }

    @Override
    public void close() {
        tensors.forEach(be::free);
        tensors.clear();
    }
}
