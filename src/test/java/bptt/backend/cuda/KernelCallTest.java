// KernelCallTest: each op's kernel arguments (KernelCalls) match, by kind, order, name and value, the kernels' signatures in kernels/.
package bptt.backend.cuda;

import bptt.backend.KernelCalls;
import bptt.backend.KernelSource;
import bptt.backend.RecordedCalls;
import bptt.backend.ReductionPlan;
import bptt.backend.ref.CpuRefBackend;
import bptt.tensor.DeviceMemory;
import bptt.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

class KernelCallTest {

    /** One C parameter group: a buffer (pointer + its int offset), an int or a float, with its name. */
    record Param(RecordedCalls.Arg.Kind kind, String name) { }

    /** An expected buffer argument by allocation and offset (scratch memory has no Tensor). */
    record Buf(DeviceMemory memory, long offset) { }

    private static final Pattern SIGNATURE = Pattern.compile("KERNEL\\s+void\\s+(\\w+)\\s*\\(([^)]*)\\)");

    /** Every kernel's parameters as written in kernels/, buffers folded with their offsets. */
    static Map<String, List<Param>> signatures() {
        Map<String, List<Param>> map = new HashMap<>();
        Matcher m = SIGNATURE.matcher(KernelSource.bodies());
        while (m.find()) {
            String[] raw = m.group(2).trim().split("\\s*,\\s*");
            List<Param> params = new ArrayList<>();
            for (int i = 0; i < raw.length; i++) {
                String p = raw[i].replaceAll("\\s+", " ");
                String name = p.substring(p.lastIndexOf(' ') + 1);
                if (p.contains("*")) {
                    String off = raw[++i].replaceAll("\\s+", " ");
                    assertEquals("int " + name + "Off", off, m.group(1) + ": buffer " + name + " must be followed by its int offset");
                    params.add(new Param(RecordedCalls.Arg.Kind.BUFFER, name));
                } else if (p.startsWith("int ")) {
                    params.add(new Param(RecordedCalls.Arg.Kind.INT, name));
                } else if (p.startsWith("float ")) {
                    params.add(new Param(RecordedCalls.Arg.Kind.FLOAT, name));
                } else {
                    fail(m.group(1) + ": parameter '" + p + "' is neither a buffer, an int nor a float");
                }
            }
            map.put(m.group(1), params);
        }
        return map;
    }

    private final CpuRefBackend ref = CpuRefBackend.float32();
    private final Tensor slab = ref.alloc(1, 10_000);
    private long next = 7;  // odd offsets, so an offset mix-up shows

    /** A fresh (rows, cols) view at a distinct odd offset of one slab. */
    private Tensor t(int rows, int cols) {
        Tensor v = slab.slice(next, rows, cols);
        next += (long) rows * cols + 13;
        return v;
    }

    /** Checks a call against the kernel's signature: kinds and order, and each argument's value by parameter name. */
    private static void check(RecordedCalls.Call call, Map<String, Object> expected, Map<String, List<Param>> sigs) {
        List<Param> params = sigs.get(call.kernel());
        assertTrue(params != null, "no kernel " + call.kernel() + " in kernels/");
        assertEquals(params.size(), call.args().size(), call.kernel() + " argument count: " + params);
        assertEquals(new TreeSet<>(expected.keySet()), new TreeSet<>(params.stream().map(Param::name).toList()),
                call.kernel() + ": the test's expectations name every parameter");
        for (int i = 0; i < params.size(); i++) {
            Param p = params.get(i);
            RecordedCalls.Arg a = call.args().get(i);
            String where = call.kernel() + " parameter " + i + " (" + p.name() + ")";
            assertEquals(p.kind(), a.kind(), where);
            Object want = expected.get(p.name());
            switch (a.kind()) {
                case BUFFER -> {
                    Buf w = want instanceof Tensor t ? new Buf(t.memory(), t.offset()) : (Buf) want;
                    assertSame(w.memory(), a.memory(), where);
                    assertEquals(w.offset(), a.value(), where + " offset");
                }
                case INT -> assertEquals(((Number) want).longValue(), a.value(), where);
                case FLOAT -> assertEquals(want, a.floatValue(), where);
            }
        }
    }

    /** The kernels {@code op} launches, each checked against the expectations given for it (kernel, then name-value pairs). */
    private static List<String> calls(Map<String, List<Param>> sigs, Consumer<KernelCalls> op, Object[]... perCall) {
        RecordedCalls r = new RecordedCalls();
        op.accept(r);
        assertEquals(perCall.length, r.calls().size(), "launches: " + r.calls());
        List<String> names = new ArrayList<>();
        for (int c = 0; c < perCall.length; c++) {
            RecordedCalls.Call call = r.calls().get(c);
            assertEquals(perCall[c][0], call.kernel(), "launch " + c);
            Map<String, Object> expected = new HashMap<>();
            for (int i = 1; i < perCall[c].length; i += 2) {
                Object value = perCall[c][i + 1];
                expected.put((String) perCall[c][i], value instanceof ScratchAt at ? new Buf(r.scratchMemory, at.offset())
                        : value);
            }
            check(call, expected, sigs);
            names.add(call.kernel());
        }
        return names;
    }

    /** Stands for "the op's scratch memory, this many floats in" in an expectation. */
    record ScratchAt(long offset) { }

    private static final ScratchAt SCRATCH = new ScratchAt(0);

    private static Object[] k(Object... kernelThenPairs) { return kernelThenPairs; }

    @Test
    void everyOpPassesItsKernelsTheArgumentsTheirSignaturesName() {
        Map<String, List<Param>> sigs = signatures();
        Tensor x = t(3, 5), y = t(3, 5), bias = t(1, 5), a = t(3, 5), m = t(3, 5), v = t(3, 5);
        Tensor logits = t(4, 7), lbias = t(1, 7), targets = t(4, 1), dlogits = t(4, 7), losses = t(4, 1);
        Tensor ids = t(6, 1), table = t(5, 9), out = t(6, 5), grad = t(6, 5), out1 = t(1, 5), total = t(1, 1);
        Tensor scalars = t(1, KernelCalls.STEP_SCALARS), loss = t(1, 1);
        List<String> covered = new ArrayList<>();

        covered.addAll(calls(sigs, c -> c.fill(x, 2.5f), k("fill", "x", x, "n", 15, "value", 2.5f)));
        covered.addAll(calls(sigs, c -> c.copy(x, y), k("copy", "src", x, "dst", y, "n", 15)));
        covered.addAll(calls(sigs, c -> c.axpy(0.5f, x, y), k("axpy", "x", x, "y", y, "n", 15, "alpha", 0.5f)));
        covered.addAll(calls(sigs, c -> c.scale(3f, x), k("scale", "x", x, "n", 15, "alpha", 3f)));
        covered.addAll(calls(sigs, c -> c.biasTanh(x, bias), k("bias_tanh", "x", x, "bias", bias, "rows", 3, "cols", 5)));
        covered.addAll(calls(sigs, c -> c.tanhBackward(a, x), k("tanh_backward", "a", a, "da", x, "n", 15)));
        Tensor gates4 = t(3, 20), b4i = t(1, 20), b4h = t(1, 20), cPrev = t(3, 5), c4 = t(3, 5), h = t(3, 5);
        Tensor gates3 = t(3, 15), hh = t(3, 15), b3i = t(1, 15), b3h = t(1, 15), hn = t(3, 5), dgh = t(3, 15);
        covered.addAll(calls(sigs, c -> c.tanhCellBackward(a, y, x),
                k("tanh_cell_backward", "a", a, "dnext", y, "da", x, "n", 15)));
        covered.addAll(calls(sigs, c -> c.lstmCellForward(gates4, b4i, b4h, cPrev, c4, h), k("lstm_cell_forward",
                "gates", gates4, "biasIh", b4i, "biasHh", b4h, "cPrev", cPrev, "c", c4, "h", h, "rows", 3, "hidden", 5)));
        covered.addAll(calls(sigs, c -> c.lstmCellBackward(gates4, cPrev, c4, h, y, x), k("lstm_cell_backward",
                "gates", gates4, "cPrev", cPrev, "c", c4, "dh", h, "dnext", y, "dc", x, "rows", 3, "hidden", 5)));
        covered.addAll(calls(sigs, c -> c.gruCellForward(gates3, hh, b3i, b3h, cPrev, hn, h), k("gru_cell_forward",
                "gates", gates3, "hh", hh, "biasIh", b3i, "biasHh", b3h, "hPrev", cPrev, "hn", hn, "h", h, "rows", 3,
                "hidden", 5)));
        covered.addAll(calls(sigs, c -> c.gruCellBackward(gates3, hn, cPrev, h, y, dgh), k("gru_cell_backward",
                "gates", gates3, "hn", hn, "hPrev", cPrev, "dh", h, "dnext", y, "dgatesHh", dgh, "rows", 3,
                "hidden", 5)));
        covered.addAll(calls(sigs, c -> c.sumRows(x, 0.25f, out1),
                k("sum_rows_partials", "x", x, "partials", SCRATCH, "rows", 3, "cols", 5, "parts", 1, "per", 3),
                k("sum_rows_final", "partials", SCRATCH, "out", out1, "parts", 1, "cols", 5, "beta", 0.25f)));
        int lanes = ReductionPlan.softmaxLanes(7);
        Tensor mask = t(4, 1);
        covered.addAll(calls(sigs, c -> c.meanSquaredError(logits, lbias, dlogits, mask, 0.125f, logits, losses),
                k("mean_squared_error", "predictions", logits, "bias", lbias, "targets", dlogits, "mask", mask,
                        "dpredictions", logits, "losses", losses, "rows", 4, "cols", 7, "gradScale", 0.125f)));
        covered.addAll(calls(sigs, c -> c.softmaxCrossEntropy(logits, lbias, targets, 0.125f, dlogits, losses),
                k("softmax_lane_stats", "logits", logits, "bias", lbias, "stats", SCRATCH, "rows", 4, "cols", 7,
                        "lanes", lanes),
                k("softmax_row_loss", "logits", logits, "bias", lbias, "targets", targets, "stats", SCRATCH,
                        "logSum", new ScratchAt(4L * lanes * 2), "losses", losses, "rows", 4, "cols", 7, "lanes", lanes),
                k("softmax_gradient", "logits", logits, "bias", lbias, "targets", targets,
                        "logSum", new ScratchAt(4L * lanes * 2), "dlogits", dlogits, "rows", 4, "cols", 7,
                        "gradScale", 0.125f)));
        covered.addAll(calls(sigs, c -> c.gatherColumns(ids, table, out),
                k("transpose_table", "in", table, "out", SCRATCH, "rows", 5, "cols", 9),
                k("gather_rows", "ids", ids, "tableT", SCRATCH, "out", out, "rows", 6, "hidden", 5, "vocab", 9)));
        covered.addAll(calls(sigs, c -> c.scatterAddColumns(ids, grad, table),
                k("scatter_add_partials", "ids", ids, "grad", grad, "partials", SCRATCH, "rows", 6, "hidden", 5,
                        "vocab", 9, "parts", 1, "per", 6),
                k("scatter_add_total", "partials", SCRATCH, "tableGrad", table, "hidden", 5, "vocab", 9, "parts", 1)));
        for (int width : new int[]{1, 2, 4}) {
            covered.addAll(calls(sigs, c -> c.uploadStaged(slab.memory(), ids, width),
                    k("upload_staged", "raw", new Buf(slab.memory(), 0), "dst", ids, "n", 6, "width", width)));
        }
        Tensor big = t(1, 256);  // two levels: 256 squares, then one sum of them
        covered.addAll(calls(sigs, c -> c.sumOfSquares(big, total),
                k("sum_of_squares", "x", big, "partials", SCRATCH, "n", 256, "parts", 256),
                k("sum_partials", "in", SCRATCH, "out", total, "n", 256, "width", ReductionPlan.TREE_WIDTH)));
        covered.addAll(calls(sigs, c -> c.setStepScalars(scalars, 0.5f, 0.25f, 0.125f), k("set_step_scalars",
                "scalars", scalars, "gradScale", 0.5f, "bias1", 0.25f, "bias2", 0.125f)));
        Buf squares = new Buf(scalars.memory(), scalars.offset() + KernelCalls.SUM_OF_SQUARES);
        covered.addAll(calls(sigs, c -> c.clipScale(x, loss, 5f, scalars),
                k("sum_of_squares", "x", x, "partials", SCRATCH, "n", 15, "parts", 15),
                k("sum_partials", "in", SCRATCH, "out", squares, "n", 15, "width", ReductionPlan.TREE_WIDTH),
                k("clip_scale", "scalars", scalars, "loss", loss, "clip", 5f)));
        covered.addAll(calls(sigs, c -> c.sgdUpdate(x, y, 0.1f, scalars),
                k("sgd_update", "param", x, "grad", y, "scalars", scalars, "n", 15, "lr", 0.1f)));
        covered.addAll(calls(sigs, c -> c.adamUpdate(x, y, m, v, 0.01f, 0.9f, 0.999f, 1e-8f, scalars),
                k("adam_update", "param", x, "grad", y, "m", m, "v", v, "scalars", scalars, "n", 15, "lr", 0.01f,
                        "beta1", 0.9f, "beta2", 0.999f, "eps", 1e-8f)));
        covered.addAll(calls(sigs, c -> c.adagradUpdate(x, y, m, 0.1f, 1e-8f, scalars),
                k("adagrad_update", "param", x, "grad", y, "cache", m, "scalars", scalars, "n", 15, "lr", 0.1f,
                        "eps", 1e-8f)));

        assertEquals(new TreeSet<>(KernelSource.kernelNames()), new TreeSet<>(covered), "every kernel is called by an op");
    }

    @Test
    void aSingleElementSumOfSquaresWritesItsTotalDirectly() {
        Tensor one = t(1, 1), total = t(1, 1);
        List<RecordedCalls.Call> launches = RecordedCalls.of(c -> c.sumOfSquares(one, total));
        assertEquals(1, launches.size());
        assertSame(total.memory(), launches.get(0).args().get(1).memory());
        assertEquals(total.offset(), launches.get(0).args().get(1).value());
    }
}
