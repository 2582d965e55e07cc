// TimeStepLaunchCountTest: on cuda (emulated) and opencl (PoCL), counted launches show a time step is at most 2 launches each way.
package bptt.backend;

import bptt.conformance.TestBackends;
import bptt.rnn.Cell;
import bptt.rnn.Rnn;
import bptt.rnn.RnnConfig;
import bptt.rnn.Schedule;
import bptt.rnn.WindowFill;
import bptt.rnn.Workspace;
import bptt.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Reads the device backends' own launch counters ({@link LaunchCounters}: every kernel and GEMM
 * they issue), not a model of them. Two views of the same claim, for every cell:
 * <ul>
 *   <li>each step op (one time step of one layer, forward or backward) makes exactly 2 launches,
 *       the recurrent GEMM and one fused kernel;</li>
 *   <li>a whole forward + backward pass of the {@link Workspace} over 2T steps issues exactly
 *       4·L·T launches more than over T steps (one output chunk each, so everything outside the
 *       recurrence is launched equally often): nothing else runs per time step.</li>
 * </ul>
 */
class TimeStepLaunchCountTest {
    private static final int B = 3;
    private static final int H = 5;
    private static final int V = 7;
    private static final int LAYERS = 2;

    @AfterAll
    static void close() { TestBackends.closeAll(); }

    private static LaunchCounters counters(Backend be) {
        assertTrue(be instanceof LaunchCounters, be.name() + " counts its launches");
        return (LaunchCounters) be;
    }

    /** Device and host launches {@code op} makes. */
    private static long[] launches(Backend be, Runnable op) {
        LaunchCounters c = counters(be);
        long device = c.deviceLaunches();
        long host = c.hostLaunches();
        op.run();
        be.synchronize();
        return new long[]{c.deviceLaunches() - device, c.hostLaunches() - host};
    }

    private static void assertTwo(Backend be, String what, Runnable op) {
        long[] n = launches(be, op);
        assertEquals(2, n[0], be.name() + " " + what + ": kernels and GEMMs the device runs");
        assertEquals(2, n[1], be.name() + " " + what + ": launch calls the host makes");
    }

    @ParameterizedTest
    @ValueSource(strings = {"cuda", "opencl"})
    void everyStepOpIsTwoLaunches(String backend) {
        Backend be = TestBackends.open(backend);
        Tensor hPrev = be.alloc(B, H), h = be.alloc(B, H), cPrev = be.alloc(B, H), c = be.alloc(B, H);
        Tensor dh = be.alloc(B, H), dnext = be.alloc(B, H), dc = be.alloc(B, H), hn = be.alloc(B, H);
        Tensor w1 = be.alloc(H, H), w4 = be.alloc(4 * H, H), w3 = be.alloc(3 * H, H);
        Tensor b1 = be.alloc(1, H), b4i = be.alloc(1, 4 * H), b4h = be.alloc(1, 4 * H);
        Tensor b3i = be.alloc(1, 3 * H), b3h = be.alloc(1, 3 * H);
        Tensor g4 = be.alloc(B, 4 * H), g3 = be.alloc(B, 3 * H), hh = be.alloc(B, 3 * H), dg3 = be.alloc(B, 3 * H);
        try {
            assertTwo(be, "tanhStepForward", () -> be.tanhStepForward(hPrev, w1, b1, h));
            assertTwo(be, "tanhStepBackward", () -> be.tanhStepBackward(h, w1, dh, dnext));
            assertTwo(be, "lstmStepForward", () -> be.lstmStepForward(hPrev, cPrev, w4, b4i, b4h, g4, c, h));
            assertTwo(be, "lstmStepBackward", () -> be.lstmStepBackward(g4, cPrev, c, w4, dh, dc, dnext));
            assertTwo(be, "gruStepForward", () -> be.gruStepForward(hPrev, w3, b3i, b3h, g3, hh, hn, h));
            assertTwo(be, "gruStepBackward", () -> be.gruStepBackward(g3, hn, hPrev, w3, dh, dg3, dnext));
        } finally {
            for (Tensor t : new Tensor[]{hPrev, h, cPrev, c, dh, dnext, dc, hn, w1, w4, w3, b1, b4i, b4h, b3i, b3h,
                    g4, g3, hh, dg3}) {
                be.free(t);
            }
        }
    }

    /** Launches of a forward and of a backward pass over T steps (one output chunk), and the ops each called. */
    private record Pass(long forward, long backward, Map<String, Long> ops) { }

    private static Pass pass(Backend be, Cell cell, int seqLen) {
        RnnConfig cfg = RnnConfig.charModel(cell, V, H, LAYERS);
        ProfilingBackend profiled = new ProfilingBackend(be);
        try (Rnn rnn = new Rnn(profiled, cfg); Workspace ws = rnn.workspace(B, seqLen, new Schedule(0, seqLen))) {
            rnn.initialize(3);
            SplittableRandom random = new SplittableRandom(5);
            float[] ids = new float[B * seqLen];
            float[] targets = new float[B * seqLen];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = random.nextInt(V);
                targets[i] = random.nextInt(V);
            }
            WindowFill.fill(ws, ids, targets);
            profiled.reset();
            long forward = launches(be, ws::forward)[0];
            long backward = launches(be, ws::backward)[0];
            Map<String, Long> ops = new TreeMap<>();
            profiled.entries().forEach(e -> ops.put(e.op(), e.calls()));
            return new Pass(forward, backward, ops);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"cuda", "opencl"})
    void aTimeStepAddsTwoLaunchesForwardAndTwoBackwardPerLayer(String backend) {
        Backend be = TestBackends.open(backend);
        int t = 4;
        for (Cell cell : Cell.values()) {
            Pass one = pass(be, cell, t);
            Pass two = pass(be, cell, 2 * t);
            String what = backend + " " + cell.option() + ", T=" + t + " and " + 2 * t + ": ";
            assertEquals(2L * LAYERS * t, two.forward() - one.forward(), what + "forward launches per time step · L · T");
            assertEquals(2L * LAYERS * t, two.backward() - one.backward(), what + "backward launches per time step · L · T");
            String forwardOp = cell.option() + "StepForward";
            String backwardOp = cell.option() + "StepBackward";
            assertEquals((long) LAYERS * 2 * t, two.ops().get(forwardOp), what + forwardOp + " once per step and layer");
            assertEquals((long) LAYERS * 2 * t, two.ops().get(backwardOp), what + backwardOp + " once per step and layer");
        }
    }
}
