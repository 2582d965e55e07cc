// CpuBackendTest: the cpu backend against cpu-ref, op by op and for whole BPTT passes, on odd shapes.
package bptt.backend.cpu;

import bptt.backend.Backend;
import bptt.backend.ref.CpuRefBackend;
import bptt.rnn.Rnn;
import bptt.rnn.RnnConfig;
import bptt.rnn.Workspace;
import bptt.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Every op runs on the same random data in both backends, outputs poisoned with NaN first;
 * results must satisfy |got − ref| ≤ atol + rtol·|ref| (NaN/Inf fail first). Shapes are odd and
 * some are large enough that the ops split over threads.
 */
class CpuBackendTest {
    private static CpuBackend cpu;
    private static CpuRefBackend ref;
    private final Random random = new Random(20261122);

    @BeforeAll
    static void open() {
        String reason = CpuBackend.unavailableReason();
        assumeTrue(reason == null, "cpu backend unavailable: " + reason);
        cpu = new CpuBackend(2);
        ref = CpuRefBackend.float32();
    }

    @AfterAll
    static void close() {
        if (cpu != null) {
            cpu.close();
        }
    }

    // ---- helpers ---------------------------------------------------------------------------

    /** The same (rows, cols) values on both backends. */
    private record Pair(Tensor got, Tensor want) { }

    private float[] randoms(int n, double scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) ((random.nextDouble() * 2 - 1) * scale);
        }
        return v;
    }

    private Pair pair(int rows, int cols, float[] values) {
        Tensor g = cpu.alloc(rows, cols);
        Tensor w = ref.alloc(rows, cols);
        if (values.length > 0) {
            cpu.upload(values, g);
            ref.upload(values, w);
        }
        return new Pair(g, w);
    }

    private Pair random(int rows, int cols) { return pair(rows, cols, randoms(rows * cols, 1.5)); }

    private Pair poisoned(int rows, int cols) {
        float[] nan = new float[rows * cols];
        Arrays.fill(nan, Float.NaN);
        return pair(rows, cols, nan);
    }

    private static void close(float[] got, float[] want, double atol, double rtol, String what) {
        assertEquals(want.length, got.length, what + ": length");
        double maxErr = 0;
        int bad = -1;
        for (int i = 0; i < got.length; i++) {
            if (!Float.isFinite(got[i])) {
                fail(what + ": non-finite " + got[i] + " at " + i + " (ref " + want[i] + ")");
            }
            double err = Math.abs(got[i] - want[i]);
            maxErr = Math.max(maxErr, err);
            if (err > atol + rtol * Math.abs(want[i]) && bad < 0) {
                bad = i;
            }
        }
        if (bad >= 0) {
            fail(what + ": first mismatch at " + bad + ": got " + got[bad] + " want " + want[bad] + ", max error " + maxErr);
        }
    }

    private static void close(Pair p, double atol, double rtol, String what) {
        close(cpu.download(p.got), ref.download(p.want), atol, rtol, what);
    }

    /** (rows, cols) block of a wider random allocation, so ld > cols when pad > 0. */
    private Pair padded(int rows, int cols, int pad) {
        Pair whole = random(rows, cols + pad);
        return new Pair(whole.got.block(0, pad / 2, rows, cols), whole.want.block(0, pad / 2, rows, cols));
    }

    // ---- GEMM ------------------------------------------------------------------------------

    @ParameterizedTest(name = "tA={0} tB={1} m={2} n={3} k={4} beta={5} pad={6}")
    @CsvSource({
            "false,false,1,1,1,0,0", "false,true,3,17,33,0,0", "true,false,17,3,65,0,3",
            "true,true,33,65,17,0,5", "false,true,65,33,1,1,2", "true,false,1,257,129,0.5,0",
            "false,false,129,1,65,-1,7", "false,true,32,513,511,1,0", "true,false,511,513,33,0,0",
            "true,true,1,65,33,0,3", "false,true,1,33,17,0,2", "true,false,17,1,33,0,5",
            "true,true,33,1,17,1,0", "false,false,1,65,33,0,4", "false,true,17,1,3,0,0", "true,false,1,1,17,0,1",
            "false,false,0,3,5,0,0", "false,true,3,5,0,0,0", "true,true,3,5,0,2,1"})
    void gemmMatchesReference(boolean ta, boolean tb, int m, int n, int k, float beta, int pad) {
        Pair a = ta ? padded(k, m, pad) : padded(m, k, pad);
        Pair b = tb ? padded(n, k, pad) : padded(k, n, pad);
        Pair c = beta == 0 ? poisoned(m, n) : random(m, n);
        cpu.gemm(ta, a.got, tb, b.got, 0.75f, beta, c.got);
        ref.gemm(ta, a.want, tb, b.want, 0.75f, beta, c.want);
        close(c, 1e-6 * (k + 1), 1e-4, "gemm");
    }

    @Test
    void gemmIntoStridedOutputLeavesPaddingAlone() {
        Pair a = random(17, 33);
        Pair b = random(65, 33);
        Pair whole = random(17, 70);
        Pair c = new Pair(whole.got.block(0, 2, 17, 65), whole.want.block(0, 2, 17, 65));
        cpu.gemm(false, a.got, true, b.got, 1f, 0f, c.got);
        ref.gemm(false, a.want, true, b.want, 1f, 0f, c.want);
        close(whole, 1e-5, 1e-4, "gemm strided C");
    }

    // ---- elementwise -----------------------------------------------------------------------

    @ParameterizedTest(name = "rows={0} cols={1}")
    @CsvSource({"1,1", "3,17", "33,65", "65,1025", "1000,65"})
    void elementwiseOpsMatchReference(int rows, int cols) {
        Pair x = random(rows, cols);
        Pair y = random(rows, cols);
        cpu.axpy(-0.3f, x.got, y.got);
        ref.axpy(-0.3f, x.want, y.want);
        close(y, 1e-6, 1e-6, "axpy");

        cpu.scale(1.7f, y.got);
        ref.scale(1.7f, y.want);
        close(y, 1e-6, 1e-6, "scale");

        Pair bias = random(1, cols);
        Pair pre = pair(rows, cols, randoms(rows * cols, 6));
        cpu.biasTanh(pre.got, bias.got);
        ref.biasTanh(pre.want, bias.want);
        close(pre, 1e-6, 1e-6, "biasTanh");

        Pair da = random(rows, cols);
        cpu.tanhBackward(pre.got, da.got);
        ref.tanhBackward(pre.want, da.want);
        close(da, 1e-6, 1e-5, "tanhBackward");

        Pair out = poisoned(1, cols);
        cpu.sumRows(x.got, 0f, out.got);
        ref.sumRows(x.want, 0f, out.want);
        close(out, 1e-5, 1e-6, "sumRows beta=0");
        cpu.sumRows(y.got, 0.5f, out.got);
        ref.sumRows(y.want, 0.5f, out.want);
        close(out, 1e-5, 1e-6, "sumRows beta=0.5");

        Pair copy = poisoned(rows, cols);
        cpu.copy(x.got, copy.got);
        ref.copy(x.want, copy.want);
        close(copy, 0, 0, "copy");
        cpu.fill(copy.got, 0.25f);
        ref.fill(copy.want, 0.25f);
        close(copy, 0, 0, "fill");
        cpu.fill(copy.got, 0f);
        ref.fill(copy.want, 0f);
        close(copy, 0, 0, "fill 0");

        double got = cpu.sumOfSquares(x.got);
        double want = ref.sumOfSquares(x.want);
        assertEquals(want, got, 1e-9 * Math.abs(want), "sumOfSquares");
    }

    @ParameterizedTest(name = "rows={0} vocab={1}")
    @CsvSource({"1,1", "3,17", "65,33", "1000,65"})
    void softmaxCrossEntropyMatchesReference(int rows, int vocab) {
        float[] t = new float[rows];
        for (int r = 0; r < rows; r++) {
            t[r] = r % 7 == 3 ? -1 : random.nextInt(vocab);
        }
        Pair targets = pair(rows, 1, t);
        Pair bias = random(1, vocab);
        for (boolean inPlace : new boolean[]{false, true}) {
            Pair logits = pair(rows, vocab, randoms(rows * vocab, 8));
            Pair d = inPlace ? logits : poisoned(rows, vocab);
            Pair losses = poisoned(rows, 1);
            cpu.softmaxCrossEntropy(logits.got, bias.got, targets.got, 0.1f, d.got, losses.got);
            ref.softmaxCrossEntropy(logits.want, bias.want, targets.want, 0.1f, d.want, losses.want);
            close(d, 1e-7, 1e-5, "dlogits inPlace=" + inPlace);
            close(losses, 1e-6, 1e-5, "losses inPlace=" + inPlace);
        }
    }

    @Test
    void softmaxRejectsTargetOutsideVocabulary() {
        Pair logits = random(3, 5);
        Pair targets = pair(3, 1, new float[]{0, 5, 1});
        assertThrows(IllegalArgumentException.class, () -> cpu.softmaxCrossEntropy(logits.got, random(1, 5).got,
                targets.got, 1f, logits.got, cpu.alloc(3, 1)));
    }

    @ParameterizedTest(name = "rows={0} hidden={1} vocab={2}")
    @CsvSource({"1,1,1", "17,3,5", "1000,65,17", "33,257,65"})
    void gatherAndScatterMatchReference(int rows, int hidden, int vocab) {
        float[] idv = new float[rows];
        for (int r = 0; r < rows; r++) {
            idv[r] = random.nextInt(vocab);
        }
        Pair ids = pair(rows, 1, idv);
        Pair table = random(hidden, vocab);
        Pair out = poisoned(rows, hidden);
        cpu.gatherColumns(ids.got, table.got, out.got);
        ref.gatherColumns(ids.want, table.want, out.want);
        close(out, 0, 0, "gatherColumns");

        Pair grad = random(rows, hidden);
        Pair tableGrad = random(hidden, vocab);
        cpu.scatterAddColumns(ids.got, grad.got, tableGrad.got);
        ref.scatterAddColumns(ids.want, grad.want, tableGrad.want);
        close(tableGrad, 0, 0, "scatterAddColumns (same float additions in the same order)");
    }

    @Test
    void gatherRejectsNonIntegerIds() {
        Pair ids = pair(2, 1, new float[]{1, 2.5f});
        assertThrows(IllegalArgumentException.class,
                () -> cpu.gatherColumns(ids.got, random(3, 4).got, cpu.alloc(2, 3)));
    }

    @ParameterizedTest(name = "n={0}")
    @CsvSource({"1", "17", "65537"})
    void optimizerUpdatesMatchReference(int n) {
        Pair g = random(1, n);
        Pair p = random(1, n);
        cpu.sgdUpdate(p.got, g.got, 0.1f, 0.5f);
        ref.sgdUpdate(p.want, g.want, 0.1f, 0.5f);
        close(p, 1e-7, 1e-6, "sgd");

        Pair m = random(1, n);
        Pair vAbs = pair(1, n, absolute(randoms(n, 0.01)));
        cpu.adamUpdate(p.got, g.got, m.got, vAbs.got, 0.01f, 0.9f, 0.999f, 1e-8f, 3, 0.5f);
        ref.adamUpdate(p.want, g.want, m.want, vAbs.want, 0.01f, 0.9f, 0.999f, 1e-8f, 3, 0.5f);
        close(p, 1e-6, 1e-5, "adam param");
        close(m, 1e-7, 1e-6, "adam m");
        close(vAbs, 1e-9, 1e-6, "adam v");

        Pair cache = pair(1, n, absolute(randoms(n, 1)));
        cpu.adagradUpdate(p.got, g.got, cache.got, 0.1f, 1e-8f, 0.5f);
        ref.adagradUpdate(p.want, g.want, cache.want, 0.1f, 1e-8f, 0.5f);
        close(p, 1e-6, 1e-5, "adagrad param");
        close(cache, 1e-7, 1e-6, "adagrad cache");
    }

    private static float[] absolute(float[] v) {
        float[] a = v.clone();
        for (int i = 0; i < a.length; i++) {
            a[i] = Math.abs(a[i]);
        }
        return a;
    }

    // ---- whole passes ----------------------------------------------------------------------

    @ParameterizedTest(name = "tokens={0} layers={1} B={2} T={3} H={4} in={5}")
    @CsvSource({"true,1,1,17,33,17", "true,2,3,17,65,65", "false,1,3,33,17,33", "false,2,17,3,33,5",
            "true,1,33,9,129,65"})
    void forwardBackwardMatchesReference(boolean tokens, int layers, int batch, int seqLen, int hidden, int in) {
        int outSize = tokens ? in : 17;
        RnnConfig config = new RnnConfig(in, tokens, hidden, layers, outSize);
        int rows = batch * seqLen;
        float[] inputs = new float[rows * (tokens ? 1 : in)];
        for (int i = 0; i < inputs.length; i++) {
            inputs[i] = tokens ? random.nextInt(in) : (float) random.nextGaussian();
        }
        float[] targets = new float[rows];
        for (int i = 0; i < rows; i++) {
            targets[i] = i % 5 == 2 ? -1 : random.nextInt(outSize);
        }
        float[][] h0 = new float[layers][];
        for (int l = 0; l < layers; l++) {
            h0[l] = randoms(batch * hidden, 0.5);
        }
        Result got = pass(cpu, config, batch, seqLen, inputs, targets, h0);
        Result want = pass(ref, config, batch, seqLen, inputs, targets, h0);
        assertEquals(want.loss, got.loss, 1e-5 * Math.abs(want.loss) + 1e-6, "loss");
        close(got.grads, want.grads, 2e-5, 2e-4, "gradient slab");
        for (int l = 0; l < layers; l++) {
            close(got.dh0[l], want.dh0[l], 2e-5, 2e-4, "dL/dh0 layer " + l);
            close(got.finals[l], want.finals[l], 2e-6, 1e-4, "final state layer " + l);
        }
    }

    private record Result(double loss, float[] grads, float[][] dh0, float[][] finals) { }

    private static Result pass(Backend be, RnnConfig config, int batch, int seqLen, float[] inputs, float[] targets,
                               float[][] h0) {
        try (Rnn rnn = new Rnn(be, config); Workspace ws = rnn.workspace(batch, seqLen)) {
            rnn.initialize(7);
            float[] nan = new float[(int) rnn.layout().total()];
            Arrays.fill(nan, Float.NaN);
            be.upload(nan, rnn.grads());
            ws.setInputs(inputs);
            ws.setTargets(targets);
            for (int l = 0; l < config.layers(); l++) {
                be.upload(h0[l], ws.initialState(l));
            }
            double loss = ws.forward();
            ws.backward();
            float[][] dh0 = new float[config.layers()][];
            float[][] finals = new float[config.layers()][];
            for (int l = 0; l < config.layers(); l++) {
                dh0[l] = be.download(ws.initialStateGrad(l));
                finals[l] = be.download(ws.finalState(l));
            }
            return new Result(loss, be.download(rnn.grads()), dh0, finals);
        }
    }

    // ---- determinism -----------------------------------------------------------------------

    /**
     * The Java kernels give bitwise the same results for any number of Java threads. (OpenBLAS
     * itself is only reproducible for a fixed OpenBLAS thread count, so that count is held.)
     */
    @Test
    void resultsDoNotDependOnJavaThreadCount() {
        RnnConfig config = RnnConfig.charModel(65, 257, 2);
        int batch = 33, seqLen = 9;
        float[] inputs = new float[batch * seqLen];
        float[] targets = new float[batch * seqLen];
        for (int i = 0; i < inputs.length; i++) {
            inputs[i] = random.nextInt(65);
            targets[i] = random.nextInt(65);
        }
        float[][] h0 = {randoms(batch * 257, 0.5), randoms(batch * 257, 0.5)};
        Result one;
        Result three;
        try (CpuBackend single = new CpuBackend(1, 2)) {
            one = pass(single, config, batch, seqLen, inputs, targets, h0);
        }
        try (CpuBackend many = new CpuBackend(3, 2)) {
            three = pass(many, config, batch, seqLen, inputs, targets, h0);
        }
        assertEquals(one.loss, three.loss, 0.0, "loss");
        assertArrayEquals(one.grads, three.grads, "gradient slab bitwise");
        assertArrayEquals(one.dh0[0], three.dh0[0], "dL/dh0 bitwise");
        Pair big = random(1001, 65);
        float[] x = cpu.download(big.got);
        try (CpuBackend single = new CpuBackend(1, 2); CpuBackend many = new CpuBackend(3, 2)) {
            Tensor a = single.alloc(1001, 65);
            Tensor b = many.alloc(1001, 65);
            single.upload(x, a);
            many.upload(x, b);
            assertEquals(single.sumOfSquares(a), many.sumOfSquares(b), 0.0, "sumOfSquares bitwise");
            Tensor sa = single.alloc(1, 65);
            Tensor sb = many.alloc(1, 65);
            single.sumRows(a, 0f, sa);
            many.sumRows(b, 0f, sb);
            assertArrayEquals(single.download(sa), many.download(sb), "sumRows bitwise");
        }
    }
}
