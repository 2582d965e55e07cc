// KernelCallTest: each op's kernel arguments match, by kind, order, name and value, the kernel's signature in kernels/.
package bptt.backend.cuda;

import bptt.backend.KernelSource;
import bptt.backend.ref.CpuRefBackend;
import bptt.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

class KernelCallTest {
    private static final LaunchConfig.Limits LIM = LaunchConfig.Limits.TYPICAL;

    /** One C parameter group: a buffer (pointer + its int offset), an int or a float, with its name. */
    record Param(KernelCall.Arg.Kind kind, String name) { }

    private static final Pattern SIGNATURE = Pattern.compile("KERNEL\\s+void\\s+(\\w+)\\s*\\(([^)]*)\\)");

    /** Every kernel's parameters as written in kernels/bptt_kernels.cl.cu, buffers folded with their offsets. */
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
                    params.add(new Param(KernelCall.Arg.Kind.BUFFER, name));
                } else if (p.startsWith("int ")) {
                    params.add(new Param(KernelCall.Arg.Kind.INT, name));
                } else if (p.startsWith("float ")) {
                    params.add(new Param(KernelCall.Arg.Kind.FLOAT, name));
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
    private static void check(KernelCall call, Map<String, Object> expected, Map<String, List<Param>> sigs) {
        List<Param> params = sigs.get(call.kernel());
        assertTrue(params != null, "no kernel " + call.kernel() + " in kernels/");
        assertEquals(params.size(), call.args().size(), call.kernel() + " argument count: " + params);
        assertEquals(new TreeSet<>(expected.keySet()), new TreeSet<>(params.stream().map(Param::name).toList()),
                call.kernel() + ": the test's expectations name every parameter");
        for (int i = 0; i < params.size(); i++) {
            Param p = params.get(i);
            KernelCall.Arg a = call.args().get(i);
            String where = call.kernel() + " parameter " + i + " (" + p.name() + ")";
            assertEquals(p.kind(), a.kind(), where);
            Object want = expected.get(p.name());
            switch (a.kind()) {
                case BUFFER -> {
                    if (want instanceof Tensor w) {
                        assertSame(w.memory(), a.memory(), where);
                        assertEquals(w.offset(), a.intValue(), where + " offset");
                    } else {
                        assertEquals(want, (long) a.intValue(), where + " offset");
                    }
                }
                case INT -> assertEquals(want, a.intValue(), where);
                case FLOAT -> assertEquals(want, a.floatValue(), where);
            }
        }
    }

    @Test
    void everyOpPassesItsKernelTheArgumentsItsSignatureNames() {
        Map<String, List<Param>> sigs = signatures();
        Tensor x = t(3, 5), y = t(3, 5), bias = t(1, 5), a = t(3, 5), m = t(3, 5), v = t(3, 5);
        Tensor logits = t(4, 7), lbias = t(1, 7), targets = t(4, 1), dlogits = t(4, 7), losses = t(4, 1);
        Tensor ids = t(6, 1), table = t(5, 9), out = t(6, 5), grad = t(6, 5), out1 = t(1, 5);
        Tensor scratch = t(1, LaunchConfig.SUM_PARTS + 1);
        List<String> covered = new ArrayList<>();

        covered.add(call(sigs, KernelCall.fill(x, 2.5f, LIM), "x", x, "n", 15, "value", 2.5f));
        covered.add(call(sigs, KernelCall.copy(x, y, LIM), "src", x, "dst", y, "n", 15));
        covered.add(call(sigs, KernelCall.axpy(0.5f, x, y, LIM), "x", x, "y", y, "n", 15, "alpha", 0.5f));
        covered.add(call(sigs, KernelCall.scale(3f, x, LIM), "x", x, "n", 15, "alpha", 3f));
        covered.add(call(sigs, KernelCall.biasTanh(x, bias, LIM), "x", x, "bias", bias, "rows", 3, "cols", 5));
        covered.add(call(sigs, KernelCall.tanhBackward(a, x, LIM), "a", a, "da", x, "n", 15));
        Tensor gates4 = t(3, 20), b4i = t(1, 20), b4h = t(1, 20), cPrev = t(3, 5), c = t(3, 5), h = t(3, 5);
        Tensor gates3 = t(3, 15), hh = t(3, 15), b3i = t(1, 15), b3h = t(1, 15), hn = t(3, 5), dgh = t(3, 15);
        covered.add(call(sigs, KernelCall.tanhCellBackward(a, y, x, LIM), "a", a, "dnext", y, "da", x, "n", 15));
        covered.add(call(sigs, KernelCall.lstmCellForward(gates4, b4i, b4h, cPrev, c, h, LIM), "gates", gates4,
                "biasIh", b4i, "biasHh", b4h, "cPrev", cPrev, "c", c, "h", h, "rows", 3, "hidden", 5));
        covered.add(call(sigs, KernelCall.lstmCellBackward(gates4, cPrev, c, h, y, x, LIM), "gates", gates4,
                "cPrev", cPrev, "c", c, "dh", h, "dnext", y, "dc", x, "rows", 3, "hidden", 5));
        covered.add(call(sigs, KernelCall.gruCellForward(gates3, hh, b3i, b3h, cPrev, hn, h, LIM), "gates", gates3,
                "hh", hh, "biasIh", b3i, "biasHh", b3h, "hPrev", cPrev, "hn", hn, "h", h, "rows", 3, "hidden", 5));
        covered.add(call(sigs, KernelCall.gruCellBackward(gates3, hn, cPrev, h, y, dgh, LIM), "gates", gates3,
                "hn", hn, "hPrev", cPrev, "dh", h, "dnext", y, "dgatesHh", dgh, "rows", 3, "hidden", 5));
        covered.add(call(sigs, KernelCall.sumRows(x, 0.25f, out1, LIM), "x", x, "out", out1, "rows", 3, "cols", 5,
                "beta", 0.25f));
        covered.add(call(sigs, KernelCall.softmaxCrossEntropy(logits, lbias, targets, 0.125f, dlogits, losses, LIM),
                "logits", logits, "bias", lbias, "targets", targets, "dlogits", dlogits, "losses", losses,
                "rows", 4, "cols", 7, "gradScale", 0.125f));
        Tensor mask = t(4, 1);
        covered.add(call(sigs, KernelCall.meanSquaredError(logits, lbias, dlogits, mask, 0.125f, logits, losses, LIM),
                "predictions", logits, "bias", lbias, "targets", dlogits, "mask", mask, "dpredictions", logits,
                "losses", losses, "rows", 4, "cols", 7, "gradScale", 0.125f));
        covered.add(call(sigs, KernelCall.gatherColumns(ids, table, out, LIM), "ids", ids, "table", table, "out", out,
                "rows", 6, "hidden", 5, "vocab", 9));
        covered.add(call(sigs, KernelCall.scatterAddColumns(ids, grad, table, LIM), "ids", ids, "grad", grad,
                "tableGrad", table, "rows", 6, "hidden", 5, "vocab", 9));
        for (int width : new int[]{1, 2, 4}) {
            covered.add(call(sigs, KernelCall.uploadStaged(slab.memory(), ids, width, LIM), "raw", 0L, "dst", ids,
                    "n", 6, "width", width));
        }
        covered.add(call(sigs, KernelCall.sumOfSquares(x, scratch, LIM), "x", x, "partials", scratch, "n", 15,
                "parts", 15));
        covered.add(call(sigs, KernelCall.sumOfSquaresFinal(15, scratch, LIM), "partials", scratch,
                "out", scratch.offset() + LaunchConfig.SUM_PARTS, "parts", 15));
        covered.add(call(sigs, KernelCall.sgdUpdate(x, y, 0.1f, 0.5f, LIM), "param", x, "grad", y, "n", 15,
                "lr", 0.1f, "gradScale", 0.5f));
        covered.add(call(sigs, KernelCall.adamUpdate(x, y, m, v, 0.01f, 0.9f, 0.999f, 1e-8f, 3, 0.5f, LIM),
                "param", x, "grad", y, "m", m, "v", v, "n", 15, "lr", 0.01f, "beta1", 0.9f, "beta2", 0.999f,
                "eps", 1e-8f, "bias1", (float) (1 - Math.pow(0.9f, 3)), "bias2", (float) (1 - Math.pow(0.999f, 3)),
                "gradScale", 0.5f));
        covered.add(call(sigs, KernelCall.adagradUpdate(x, y, m, 0.1f, 1e-8f, 0.5f, LIM), "param", x, "grad", y,
                "cache", m, "n", 15, "lr", 0.1f, "eps", 1e-8f, "gradScale", 0.5f));

        assertEquals(new TreeSet<>(KernelSource.kernelNames()), new TreeSet<>(covered), "every kernel is called by an op");
    }

    private static String call(Map<String, List<Param>> sigs, KernelCall call, Object... nameValue) {
        Map<String, Object> expected = new HashMap<>();
        for (int i = 0; i < nameValue.length; i += 2) {
            expected.put((String) nameValue[i], nameValue[i + 1]);
        }
        check(call, expected, sigs);
        return call.kernel();
    }

    @Test
    void buffersBeyondIntOffsetsAreRejectedNamingTheKernel() {
        KernelCall.Builder b = new KernelCall.Builder("copy");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> b.buf(slab.memory(), Integer.MAX_VALUE - 10L, 11));
        assertTrue(e.getMessage().startsWith("kernel copy: a buffer reaching element 2147483648"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> b.i(1L << 31));
    }
}
