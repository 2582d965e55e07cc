// CublasGemmPathTest: every GEMM of a real BPTT run, as the cuda backend's cublasSgemm argument list, run on the host.
package bptt.backend.cuda;

import bptt.backend.Backend;
import bptt.backend.ReferenceBlas;
import bptt.backend.ref.CpuRefBackend;
import bptt.rnn.Cell;
import bptt.rnn.ParameterLayout;
import bptt.rnn.Rnn;
import bptt.rnn.RnnConfig;
import bptt.rnn.WindowFill;
import bptt.rnn.Workspace;
import bptt.tensor.DeviceMemory;
import bptt.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Runs {@link Workspace} forward and backward on cpu-ref, except that every {@code gemm} goes
 * through {@link CublasSgemmArgs#forGemm} (the code path {@link CudaBackend} hands to cuBLAS)
 * and is executed by {@link ReferenceBlas#sgemm} on host copies of whole allocations, as the
 * device sees them. Each call must equal naive row-major loops bitwise and leave every element
 * outside C's view untouched; the whole run must then match a plain cpu-ref run.
 */
class CublasGemmPathTest {
    private static final int B = 3;
    private static final int T = 5;
    private static final int D = 7;
    private static final int H = 11;
    private static final int V = 13;
    /** S, the output chunk Workspace picks for T = 5: round(√5) steps. */
    private static final int CHUNK = 2;

    /** One executed GEMM: the engine's call and the cuBLAS argument list it became. */
    record Recorded(boolean transA, Tensor a, boolean transB, Tensor b, float beta, Tensor c, CublasSgemmArgs args) {
        String kind() {
            return (transA ? "T" : "N") + (transB ? "T" : "N") + " " + a.shape() + "·" + b.shape() + "->" + c.shape()
                    + (beta == 0f ? "" : " +C");
        }
    }

    /** cpu-ref whose gemm is replaced by "the cuBLAS argument list, executed on host arrays". */
    static final class CublasOnHost {
        final CpuRefBackend ref = CpuRefBackend.float32();
        final List<Recorded> calls = new ArrayList<>();
        final Backend backend = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(),
                new Class<?>[] {Backend.class}, (proxy, method, args) -> {
                    if (method.getName().equals("gemm")) {
                        gemm((boolean) args[0], (Tensor) args[1], (boolean) args[2], (Tensor) args[3],
                                (float) args[4], (float) args[5], (Tensor) args[6]);
                        return null;
                    }
                    if (stepAsCudaRunsIt(method.getName(), args)) {
                        return null;
                    }
                    try {
                        return method.invoke(ref, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });

        /**
         * A cell's time step as CudaBackend runs it (AbstractBackend's default hooks): the recurrent
         * GEMM through the cuBLAS path and the cell's kernel on cpu-ref. False for other ops.
         */
        private boolean stepAsCudaRunsIt(String op, Object[] a) {
            switch (op) {
                case "tanhStepForward" -> {
                    gemm(false, t(a, 0), true, t(a, 1), 1f, 1f, t(a, 3));
                    ref.biasTanh(t(a, 3), t(a, 2));
                }
                case "tanhStepBackward" -> {
                    ref.tanhCellBackward(t(a, 0), t(a, 3), t(a, 2));
                    gemm(false, t(a, 2), false, t(a, 1), 1f, 0f, t(a, 3));
                }
                case "lstmStepForward" -> {
                    gemm(false, t(a, 0), true, t(a, 2), 1f, 1f, t(a, 5));
                    ref.lstmCellForward(t(a, 5), t(a, 3), t(a, 4), t(a, 1), t(a, 6), t(a, 7));
                }
                case "lstmStepBackward" -> {
                    ref.lstmCellBackward(t(a, 0), t(a, 1), t(a, 2), t(a, 4), t(a, 6), t(a, 5));
                    gemm(false, t(a, 0), false, t(a, 3), 1f, 0f, t(a, 6));
                }
                case "gruStepForward" -> {
                    gemm(false, t(a, 0), true, t(a, 1), 1f, 0f, t(a, 5));
                    ref.gruCellForward(t(a, 4), t(a, 5), t(a, 2), t(a, 3), t(a, 0), t(a, 6), t(a, 7));
                }
                case "gruStepBackward" -> {
                    ref.gruCellBackward(t(a, 0), t(a, 1), t(a, 2), t(a, 4), t(a, 6), t(a, 5));
                    gemm(false, t(a, 5), false, t(a, 3), 1f, 1f, t(a, 6));
                }
                default -> {
                    return false;
                }
            }
            return true;
        }

        private static Tensor t(Object[] args, int i) { return (Tensor) args[i]; }

        private void gemm(boolean transA, Tensor a, boolean transB, Tensor b, float alpha, float beta, Tensor c) {
            Map<DeviceMemory, float[]> before = snapshot(ref, a, b, c);
            ref.gemm(transA, a, transB, b, alpha, beta, c);   // the backend's shape and aliasing checks
            CublasSgemmArgs args = CublasSgemmArgs.forGemm(transA, a, transB, b, alpha, beta, c);
            float[] device = execute(args, before);
            String mismatch = compareWithNaive(transA, a, transB, b, alpha, beta, c, before, device);
            if (mismatch != null) {
                fail(args + " for " + new Recorded(transA, a, transB, b, beta, c, args).kind() + ": " + mismatch);
            }
            ref.upload(device, whole(c.memory()));           // the run continues on the cuBLAS-path result
            calls.add(new Recorded(transA, a, transB, b, beta, c, args));
        }
    }

    static Tensor whole(DeviceMemory memory) {
        return new Tensor(memory, 0, 1, (int) memory.capacity(), (int) memory.capacity());
    }

    static Map<DeviceMemory, float[]> snapshot(Backend be, Tensor... ts) {
        Map<DeviceMemory, float[]> map = new IdentityHashMap<>();
        for (Tensor t : ts) {
            map.computeIfAbsent(t.memory(), m -> be.download(whole(m)));
        }
        return map;
    }

    /** Runs the argument list with the column-major reference sgemm; returns C's whole allocation afterwards. */
    static float[] execute(CublasSgemmArgs s, Map<DeviceMemory, float[]> before) {
        float[] cMem = before.get(s.c().memory()).clone();
        ReferenceBlas.sgemm(CublasSgemmArgs.blasChar(s.transa()), CublasSgemmArgs.blasChar(s.transb()),
                s.m(), s.n(), s.k(), s.alpha(),
                before.get(s.a().memory()), Math.toIntExact(s.aOffset()), s.lda(),
                before.get(s.b().memory()), Math.toIntExact(s.bOffset()), s.ldb(),
                s.beta(), cMem, Math.toIntExact(s.cOffset()), s.ldc());
        return cMem;
    }

    /**
     * Row-major C = alpha·op(A)·op(B) + beta·C with plain loops (float accumulation in the order
     * of the inner index, as reference BLAS does), checked bitwise against {@code device}; every
     * element outside C's view must be unchanged. Returns null or the first problem.
     */
    static String compareWithNaive(boolean transA, Tensor a, boolean transB, Tensor b, float alpha, float beta,
                                   Tensor c, Map<DeviceMemory, float[]> before, float[] device) {
        float[] av = before.get(a.memory()), bv = before.get(b.memory()), cv = before.get(c.memory());
        int k = transA ? a.rows() : a.cols();
        boolean[] inC = new boolean[cv.length];
        for (int i = 0; i < c.rows(); i++) {
            for (int j = 0; j < c.cols(); j++) {
                float sum = 0f;
                for (int p = 0; p < k; p++) {
                    float aip = transA ? av[at(a, p, i)] : av[at(a, i, p)];
                    float bpj = transB ? bv[at(b, j, p)] : bv[at(b, p, j)];
                    sum += aip * bpj;
                }
                int ci = at(c, i, j);
                float want = beta == 0f ? alpha * sum : alpha * sum + beta * cv[ci];
                inC[ci] = true;
                if (Float.floatToIntBits(device[ci]) != Float.floatToIntBits(want)) {
                    return "C[" + i + "," + j + "] = " + device[ci] + ", naive loops give " + want;
                }
            }
        }
        for (int x = 0; x < cv.length; x++) {
            if (!inC[x] && Float.floatToIntBits(device[x]) != Float.floatToIntBits(cv[x])) {
                return "element " + x + " of C's allocation lies outside C's view but changed";
            }
        }
        return null;
    }

    private static int at(Tensor t, int r, int c) { return Math.toIntExact(t.offset() + (long) r * t.ld() + c); }

    // ---- whole BPTT runs -------------------------------------------------------------------

    private static float[] random(SplittableRandom random, int n, double scale) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) ((random.nextDouble() * 2 - 1) * scale);
        }
        return x;
    }

    /** Loss and gradient slab of one forward+backward; records the GEMMs when be is a CublasOnHost proxy. */
    private static double[] run(Backend be, RnnConfig cfg, float[] hostLoss) {
        SplittableRandom random = new SplittableRandom(7);
        try (Rnn rnn = new Rnn(be, cfg); Workspace ws = rnn.workspace(B, T)) {
            assertEquals(CHUNK, ws.chunkSteps(), "the chunk the expected GEMM lists assume");
            rnn.initialize(42);
            float[] inputs = new float[T * B * (cfg.tokenInput() ? 1 : cfg.inputSize())];
            for (int i = 0; i < inputs.length; i++) {
                inputs[i] = cfg.tokenInput() ? random.nextInt(cfg.inputSize()) : (float) random.nextGaussian();
            }
            float[] targets = new float[T * B];
            for (int i = 0; i < targets.length; i++) {
                targets[i] = i % 4 == 3 ? -1 : random.nextInt(cfg.outputSize());
            }
            WindowFill.fill(ws, inputs, targets);
            for (int l = 0; l < cfg.layers(); l++) {
                be.upload(random(random, B * H, 0.5), ws.initialState(l));
                if (cfg.cell().hasCellState()) {
                    be.upload(random(random, B * H, 0.5), ws.initialCellState(l));
                }
            }
            hostLoss[0] = (float) ws.forward();
            ws.backward();
            return be.downloadDoubles(rnn.grads());
        }
    }

    private static void assertClose(String what, double[] want, double[] got) {
        assertEquals(want.length, got.length, what + " length");
        for (int i = 0; i < want.length; i++) {
            assertTrue(Double.isFinite(got[i]), what + "[" + i + "] is " + got[i]);
            double tol = 1e-5 + 1e-4 * Math.abs(want[i]);
            assertTrue(Math.abs(got[i] - want[i]) <= tol, what + "[" + i + "] = " + got[i] + ", cpu-ref " + want[i]);
        }
    }

    /** One forward+backward through the cuBLAS path and one on plain cpu-ref: loss and gradients must agree. */
    private static CublasOnHost runMatchingCpuRef(RnnConfig cfg) {
        CublasOnHost host = new CublasOnHost();
        float[] lossCublas = new float[1];
        float[] lossRef = new float[1];
        double[] gradsCublas = run(host.backend, cfg, lossCublas);
        double[] gradsRef = run(CpuRefBackend.float32(), cfg, lossRef);
        assertEquals(lossRef[0], lossCublas[0], 1e-5 * Math.abs(lossRef[0]), "loss");
        assertClose("gradient slab", gradsRef, gradsCublas);
        return host;
    }

    @ParameterizedTest(name = "layers={0}")
    @ValueSource(ints = {1, 2})
    void denseInputRunMatchesCpuRefAndCoversEveryGemm(int layers) {
        RnnConfig cfg = new RnnConfig(D, false, H, layers, V);
        CublasOnHost host = runMatchingCpuRef(cfg);

        Map<String, Integer> kinds = new TreeMap<>();
        for (Recorded r : host.calls) {
            kinds.merge(r.kind(), 1, Integer::sum);
        }
        int l = layers;
        Map<String, Integer> expected = new TreeMap<>();
        expected.merge("NT (" + B + "," + H + ")·(" + H + "," + H + ")->(" + B + "," + H + ") +C", l * T, Integer::sum); // h_{t-1}·W_hhᵀ
        expected.merge("NN (" + B + "," + H + ")·(" + H + "," + H + ")->(" + B + "," + H + ")", l * T, Integer::sum); // dnext
        for (int c = 0; c < T; c += CHUNK) {          // the output layer and weight gradients run per chunk of S steps
            int n = Math.min(CHUNK, T - c) * B;
            expected.merge("NT (" + n + "," + D + ")·(" + H + "," + D + ")->(" + n + "," + H + ")", 1, Integer::sum); // x·Wax0ᵀ
            expected.merge("NT (" + n + "," + H + ")·(" + H + "," + H + ")->(" + n + "," + H + ")", l - 1, Integer::sum); // h·Wax_lᵀ
            expected.merge("NT (" + n + "," + H + ")·(" + V + "," + H + ")->(" + n + "," + V + ")", 1, Integer::sum); // h·Wyaᵀ
            expected.merge("TN (" + n + "," + V + ")·(" + n + "," + H + ")->(" + V + "," + H + ") +C", 1, Integer::sum); // dWya
            expected.merge("NN (" + n + "," + V + ")·(" + V + "," + H + ")->(" + n + "," + H + ")", 1, Integer::sum); // dh = dy·Wya
            expected.merge("TN (" + n + "," + H + ")·(" + n + "," + H + ")->(" + H + "," + H + ") +C", l + (l - 1), Integer::sum); // dWaa, dWax_l>0
            expected.merge("TN (" + n + "," + H + ")·(" + n + "," + D + ")->(" + H + "," + D + ") +C", 1, Integer::sum); // dWax0
            expected.merge("NN (" + n + "," + H + ")·(" + H + "," + H + ")->(" + n + "," + H + ")", l - 1, Integer::sum); // dx_l>0
        }
        expected.values().removeIf(n -> n == 0);
        assertEquals(expected, kinds, "the GEMMs of one BPTT forward+backward");
    }

    /** LSTM and GRU: every GEMM of a run goes through the cuBLAS path, their (4H or 3H)-wide ones included. */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"lstm", "gru"})
    void cellRunsMatchCpuRefThroughTheCublasPath(String cellName) {
        Cell cell = Cell.parse(cellName);
        RnnConfig cfg = new RnnConfig(D, false, H, 2, V, cell);
        CublasOnHost host = runMatchingCpuRef(cfg);
        ParameterLayout layout = new ParameterLayout(cfg);
        java.util.Set<Long> whh = java.util.Set.of(layout.entry(ParameterLayout.waa(0)).start(),
                layout.entry(ParameterLayout.waa(1)).start());
        java.util.function.Predicate<Recorded> byWhh = r -> !r.transA() && whh.contains(r.b().offset())
                && r.b().memory().capacity() == layout.total();     // B is a W_hh view of the parameter slab
        long forward = host.calls.stream().filter(byWhh).filter(Recorded::transB).count();
        long backward = host.calls.stream().filter(byWhh).filter(r -> !r.transB()).count();
        assertEquals(2 * T, forward, "one recurrent GEMM (B,H)·W_hhᵀ per layer and step forward");
        assertEquals(2 * T, backward, "one recurrent GEMM dgates·W_hh per layer and step backward");
        assertTrue(host.calls.stream().filter(byWhh).allMatch(r -> r.c().rows() == B),
                "every product with W_hh is one step of B rows");
    }

    @Test
    void tokenInputTwoLayerRunMatchesCpuRef() {
        RnnConfig cfg = RnnConfig.charModel(V, H, 2);
        CublasOnHost host = runMatchingCpuRef(cfg);
        // recurrent + dnext per layer and step; per chunk: layer 1 input projection and dx, output, dWya, dh,
        // dWaa per layer, dWax1
        int chunks = (T + CHUNK - 1) / CHUNK;
        assertEquals(2 * T + 2 * T + chunks * (2 + 3 + 2 + 1), host.calls.size(), "GEMM count of a 2-layer char model");
    }

    @Test
    void paddedViewsKeepTheirLeadingDimensions() {
        CpuRefBackend ref = CpuRefBackend.float32();
        SplittableRandom random = new SplittableRandom(3);
        Tensor aRoot = ref.alloc(9, 10);
        Tensor bRoot = ref.alloc(8, 12);
        Tensor cRoot = ref.alloc(7, 9);
        ref.upload(random(random, 90, 1), aRoot);
        ref.upload(random(random, 96, 1), bRoot);
        ref.upload(random(random, 63, 1), cRoot);
        for (boolean ta : new boolean[] {false, true}) {
            for (boolean tb : new boolean[] {false, true}) {
                Tensor a = ta ? aRoot.block(1, 2, 3, 5) : aRoot.block(1, 2, 5, 3);  // op(A) (5,3)
                Tensor b = tb ? bRoot.block(2, 1, 4, 3) : bRoot.block(2, 1, 3, 4);  // op(B) (3,4)
                Tensor c = cRoot.block(1, 3, 5, 4);                                 // (5,4) ld=9
                Map<DeviceMemory, float[]> before = snapshot(ref, a, b, c);
                CublasSgemmArgs args = CublasSgemmArgs.forGemm(ta, a, tb, b, 0.5f, 2f, c);
                assertEquals(c.ld(), args.ldc());
                assertNull(compareWithNaive(ta, a, tb, b, 0.5f, 2f, c, before, execute(args, before)), args.toString());
            }
        }
    }

    /** The check is not vacuous: the classic mistakes (flags swapped, operands not swapped) are caught. */
    @Test
    void wrongArgumentListsAreCaught() {
        CpuRefBackend ref = CpuRefBackend.float32();
        SplittableRandom random = new SplittableRandom(5);
        Tensor dpre = ref.alloc(H, H);       // (T·B, H) with T·B = H: every shape is square, so
        Tensor states = ref.alloc(H, H);     // (T·B, H)   shapes and leading dimensions cannot
        Tensor dwaa = ref.alloc(H, H);       // (H, H)     tell the mistakes apart
        ref.upload(random(random, H * H, 1), dpre);
        ref.upload(random(random, H * H, 1), states);
        Map<DeviceMemory, float[]> before = snapshot(ref, dpre, states, dwaa);
        CublasSgemmArgs good = CublasSgemmArgs.forGemm(true, dpre, false, states, 1f, 0f, dwaa);
        assertNull(compareWithNaive(true, dpre, false, states, 1f, 0f, dwaa, before, execute(good, before)));

        CublasSgemmArgs flagsSwapped = new CublasSgemmArgs(good.transb(), good.transa(), good.m(), good.n(), good.k(),
                1f, good.a(), good.aOffset(), good.lda(), good.b(), good.bOffset(), good.ldb(), 0f, good.c(),
                good.cOffset(), good.ldc());
        CublasSgemmArgs operandsKept = new CublasSgemmArgs(good.transb(), good.transa(), good.m(), good.n(), good.k(),
                1f, good.b(), good.bOffset(), good.ldb(), good.a(), good.aOffset(), good.lda(), 0f, good.c(),
                good.cOffset(), good.ldc());
        assertNotNull(compareWithNaive(true, dpre, false, states, 1f, 0f, dwaa, before, execute(flagsSwapped, before)));
        assertNotNull(compareWithNaive(true, dpre, false, states, 1f, 0f, dwaa, before, execute(operandsKept, before)));
    }
}
