// CpuBackendCases: the cpu backend against cpu-ref, op by op and for whole BPTT passes, on odd shapes; run per tuning by subclasses.
package bptt.backend.cpu;

import bptt.backend.Backend;
import bptt.backend.ref.CpuRefBackend;
import bptt.rnn.Rnn;
import bptt.rnn.RnnConfig;
import bptt.rnn.WindowFill;
import bptt.rnn.Workspace;
import bptt.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Every op runs on the same random data in both backends, outputs poisoned with NaN first;
 * results must satisfy |got − ref| ≤ atol + rtol·|ref| (NaN/Inf fail first). Shapes are odd.
 * Each subclass opens the backend with one tuning: the defaults ({@link CpuBackendTest}), or
 * every op split over a team of three ({@link CpuBackendSplitTest} with the Vector API kernels,
 * {@link CpuBackendPlainSplitTest} without), where every op with two units of work or more must
 * really run on several threads: a worker that skipped or repeated its share would fail.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class CpuBackendCases {
    CpuBackend cpu;
    CpuRefBackend ref;
    final Random random = new Random(20261122);

    /** The backend under test, with its tuning. */
    abstract CpuBackend open();

    /** Whether every op with at least two units of work must split over the team. */
    abstract boolean splitsEverything();

    @BeforeAll
    void openBackends() {
        String reason = CpuBackend.unavailableReason();
        assumeTrue(reason == null, "cpu backend unavailable: " + reason);
        cpu = open();
        ref = CpuRefBackend.float32();
    }

    @AfterAll
    void close() {
        if (cpu != null) {
            cpu.close();
        }
    }

    /** Runs the op on the cpu backend and, when everything splits and the op has two units of work or more, checks it did. */
    void split(String what, boolean twoUnits, Runnable op) {
        long before = cpu.team().splitJobs();
        op.run();
        if (splitsEverything() && twoUnits) {
            assertTrue(cpu.team().splitJobs() > before, what + " ran on one thread although the tuning splits everything");
        }
    }

    // ---- helpers ---------------------------------------------------------------------------

    /** The same (rows, cols) values on both backends. */
    record Pair(Tensor got, Tensor want) { }

    float[] randoms(int n, double scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) ((random.nextDouble() * 2 - 1) * scale);
        }
        return v;
    }

    Pair pair(int rows, int cols, float[] values) {
        Tensor g = cpu.alloc(rows, cols);
        Tensor w = ref.alloc(rows, cols);
        if (values.length > 0) {
            cpu.upload(values, g);
            ref.upload(values, w);
        }
        return new Pair(g, w);
    }

    Pair random(int rows, int cols) { return pair(rows, cols, randoms(rows * cols, 1.5)); }

    Pair poisoned(int rows, int cols) {
        float[] nan = new float[rows * cols];
        Arrays.fill(nan, Float.NaN);
        return pair(rows, cols, nan);
    }

    static void close(float[] got, float[] want, double atol, double rtol, String what) {
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

    void close(Pair p, double atol, double rtol, String what) {
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
        split("gemm", Math.max(m, n) > TeamGemm.ALIGN, () -> cpu.gemm(ta, a.got, tb, b.got, 0.75f, beta, c.got));
        ref.gemm(ta, a.want, tb, b.want, 0.75f, beta, c.want);
        close(c, 1e-6 * (k + 1), 1e-4, "gemm");
    }

    @Test
    void gemmIntoStridedOutputLeavesPaddingAlone() {
        Pair a = random(17, 33);
        Pair b = random(65, 33);
        Pair whole = random(17, 70);
        Pair c = new Pair(whole.got.block(0, 2, 17, 65), whole.want.block(0, 2, 17, 65));
        split("gemm strided C", true, () -> cpu.gemm(false, a.got, true, b.got, 1f, 0f, c.got));
        ref.gemm(false, a.want, true, b.want, 1f, 0f, c.want);
        close(whole, 1e-5, 1e-4, "gemm strided C");
    }

    // ---- elementwise -----------------------------------------------------------------------

    @ParameterizedTest(name = "rows={0} cols={1}")
    @CsvSource({"1,1", "3,17", "33,65", "65,1025", "1000,65"})
    void elementwiseOpsMatchReference(int rows, int cols) {
        Pair x = random(rows, cols);
        Pair y = random(rows, cols);
        split("axpy", rows > 1 && cols > 1, () -> cpu.axpy(-0.3f, x.got, y.got));
        ref.axpy(-0.3f, x.want, y.want);
        close(y, 1e-6, 1e-6, "axpy");

        split("scale", rows > 1 && cols > 1, () -> cpu.scale(1.7f, y.got));
        ref.scale(1.7f, y.want);
        close(y, 1e-6, 1e-6, "scale");

        Pair bias = random(1, cols);
        Pair pre = pair(rows, cols, randoms(rows * cols, 6));
        split("biasTanh", rows > 1 && cols > 1, () -> cpu.biasTanh(pre.got, bias.got));
        ref.biasTanh(pre.want, bias.want);
        close(pre, 1e-6, 1e-6, "biasTanh");

        Pair da = random(rows, cols);
        split("tanhBackward", rows > 1 && cols > 1, () -> cpu.tanhBackward(pre.got, da.got));
        ref.tanhBackward(pre.want, da.want);
        close(da, 1e-6, 1e-5, "tanhBackward");

        Pair out = poisoned(1, cols);
        split("sumRows", rows > 1 && cols > 1, () -> cpu.sumRows(x.got, 0f, out.got));
        ref.sumRows(x.want, 0f, out.want);
        close(out, 1e-5, 1e-6, "sumRows beta=0");
        split("sumRows", rows > 1 && cols > 1, () -> cpu.sumRows(y.got, 0.5f, out.got));
        ref.sumRows(y.want, 0.5f, out.want);
        close(out, 1e-5, 1e-6, "sumRows beta=0.5");

        Pair copy = poisoned(rows, cols);
        cpu.copy(x.got, copy.got);
        ref.copy(x.want, copy.want);
        close(copy, 0, 0, "copy");
        split("fill", rows > 1 && cols > 1, () -> cpu.fill(copy.got, 0.25f));
        ref.fill(copy.want, 0.25f);
        close(copy, 0, 0, "fill");
        cpu.fill(copy.got, 0f);
        ref.fill(copy.want, 0f);
        close(copy, 0, 0, "fill 0");

        double[] sum = new double[1];
        split("sumOfSquares", (long) rows * cols > 1 << 14, () -> sum[0] = cpu.sumOfSquares(x.got));
        double got = sum[0];
        double want = ref.sumOfSquares(x.want);
        assertEquals(want, got, 1e-9 * Math.abs(want), "sumOfSquares");
    }

    // ---- the recurrent step -----------------------------------------------------------------

    /**
     * Both step ops against cpu-ref: batch 1 and other sizes around the 4-row micro-kernel,
     * hidden sizes around the packed strip width (16 floats per vector: 64 columns).
     */
    @ParameterizedTest(name = "B={0} H={1}")
    @CsvSource({"1,1", "1,65", "1,256", "3,17", "4,64", "5,129", "8,257", "17,33", "33,200", "64,96"})
    void recurrentStepsMatchReference(int batch, int hidden) {
        Pair waa = pair(hidden, hidden, randoms(hidden * hidden, 1.5 / Math.sqrt(hidden)));
        Pair bias = random(1, hidden);
        Pair hPrev = pair(batch, hidden, randoms(batch * hidden, 1));
        Pair pre = random(batch, hidden);
        boolean wide = hidden > 64;
        split("tanhStepForward", wide, () -> cpu.tanhStepForward(hPrev.got, waa.got, bias.got, pre.got));
        ref.tanhStepForward(hPrev.want, waa.want, bias.want, pre.want);
        close(pre, 2e-6, 1e-5, "tanhStepForward");

        Pair da = random(batch, hidden);
        Pair dnext = random(batch, hidden);
        split("tanhStepBackward", wide, () -> cpu.tanhStepBackward(pre.got, waa.got, da.got, dnext.got));
        ref.tanhStepBackward(pre.want, waa.want, da.want, dnext.want);
        close(da, 1e-6, 1e-6, "tanhStepBackward dpre");
        close(dnext, 2e-6 * Math.sqrt(hidden), 1e-5, "tanhStepBackward dnext");
    }

    /**
     * The LSTM and GRU steps (on packed W_hh, gate strips split over the team, when the vector
     * kernels run) against cpu-ref, on hidden sizes around the strip width (a gate of 65 or 129
     * units ends in a strip of its own).
     */
    @ParameterizedTest(name = "B={0} H={1}")
    @CsvSource({"1,1", "1,65", "3,17", "4,64", "5,129", "17,33", "33,200"})
    void cellStepsMatchReference(int batch, int hidden) {
        int h4 = 4 * hidden, h3 = 3 * hidden;
        boolean wide = hidden > 64;
        Pair hPrev = pair(batch, hidden, randoms(batch * hidden, 1));
        Pair cPrev = random(batch, hidden);
        Pair w4 = pair(h4, hidden, randoms(h4 * hidden, 1.5 / Math.sqrt(hidden)));
        Pair bi4 = random(1, h4);
        Pair bh4 = random(1, h4);
        Pair gates4 = random(batch, h4);
        Pair c = poisoned(batch, hidden);
        Pair h = poisoned(batch, hidden);
        split("lstmStepForward", wide, () -> cpu.lstmStepForward(hPrev.got, cPrev.got, w4.got, bi4.got, bh4.got,
                gates4.got, c.got, h.got));
        ref.lstmStepForward(hPrev.want, cPrev.want, w4.want, bi4.want, bh4.want, gates4.want, c.want, h.want);
        close(gates4, 2e-6, 1e-5, "lstmStepForward gates");
        close(c, 2e-6, 1e-5, "lstmStepForward c");
        close(h, 2e-6, 1e-5, "lstmStepForward h");

        Pair dh = random(batch, hidden);
        Pair dc = random(batch, hidden);
        Pair dnext = random(batch, hidden);
        split("lstmStepBackward", wide, () -> cpu.lstmStepBackward(gates4.got, cPrev.got, c.got, w4.got, dh.got, dc.got,
                dnext.got));
        ref.lstmStepBackward(gates4.want, cPrev.want, c.want, w4.want, dh.want, dc.want, dnext.want);
        close(gates4, 2e-6, 1e-5, "lstmStepBackward dgates");
        close(dc, 2e-6, 1e-5, "lstmStepBackward dc");
        close(dnext, 2e-6 * Math.sqrt(h4), 1e-5, "lstmStepBackward dnext");

        Pair w3 = pair(h3, hidden, randoms(h3 * hidden, 1.5 / Math.sqrt(hidden)));
        Pair bi3 = random(1, h3);
        Pair bh3 = random(1, h3);
        Pair gates3 = random(batch, h3);
        Pair hh = poisoned(batch, h3);
        Pair hn = poisoned(batch, hidden);
        Pair h2 = poisoned(batch, hidden);
        split("gruStepForward", wide, () -> cpu.gruStepForward(hPrev.got, w3.got, bi3.got, bh3.got, gates3.got, hh.got,
                hn.got, h2.got));
        ref.gruStepForward(hPrev.want, w3.want, bi3.want, bh3.want, gates3.want, hh.want, hn.want, h2.want);
        close(gates3, 2e-6, 1e-5, "gruStepForward gates");
        close(hn, 2e-6, 1e-5, "gruStepForward hn");
        close(h2, 2e-6, 1e-5, "gruStepForward h");

        Pair dgatesHh = poisoned(batch, h3);
        Pair dnext3 = random(batch, hidden);
        split("gruStepBackward", wide, () -> cpu.gruStepBackward(gates3.got, hn.got, hPrev.got, w3.got, dh.got,
                dgatesHh.got, dnext3.got));
        ref.gruStepBackward(gates3.want, hn.want, hPrev.want, w3.want, dh.want, dgatesHh.want, dnext3.want);
        close(gates3, 2e-6, 1e-5, "gruStepBackward dgates");
        close(dgatesHh, 2e-6, 1e-5, "gruStepBackward dgatesHh");
        close(dnext3, 2e-6 * Math.sqrt(h3), 1e-5, "gruStepBackward dnext");
    }

    /**
     * A packed copy of Waa must follow every way the weights change between steps: an optimizer
     * update, an upload, a copy into the slab; and two views of one slab (two layers) are two
     * different matrices.
     */
    @Test
    void recurrentStepsSeeWeightUpdates() {
        int batch = 3, hidden = 70;
        Pair slab = pair(2, hidden * hidden, randoms(2 * hidden * hidden, 0.2));
        Pair layer0 = new Pair(slab.got.rows(0, 1).reshape(hidden, hidden), slab.want.rows(0, 1).reshape(hidden, hidden));
        Pair layer1 = new Pair(slab.got.rows(1, 1).reshape(hidden, hidden), slab.want.rows(1, 1).reshape(hidden, hidden));
        Pair grad = random(2, hidden * hidden);
        Pair bias = random(1, hidden);
        Pair hPrev = random(batch, hidden);
        Runnable[] changes = {
                () -> { },
                () -> {
                    cpu.sgdUpdate(slab.got, grad.got, 0.5f, 1f);
                    ref.sgdUpdate(slab.want, grad.want, 0.5f, 1f);
                },
                () -> {
                    float[] fresh = randoms(2 * hidden * hidden, 0.2);
                    cpu.upload(fresh, slab.got);
                    ref.upload(fresh, slab.want);
                },
                () -> {
                    cpu.copy(layer1.got, layer0.got);
                    ref.copy(layer1.want, layer0.want);
                },
                () -> {
                    cpu.scale(-1f, slab.got);
                    ref.scale(-1f, slab.want);
                }};
        for (int i = 0; i < changes.length; i++) {
            changes[i].run();
            for (Pair waa : new Pair[]{layer0, layer1}) {
                Pair pre = random(batch, hidden);
                cpu.tanhStepForward(hPrev.got, waa.got, bias.got, pre.got);
                ref.tanhStepForward(hPrev.want, waa.want, bias.want, pre.want);
                close(pre, 2e-6, 1e-5, "forward after change " + i);
                Pair da = random(batch, hidden);
                Pair dnext = random(batch, hidden);
                cpu.tanhStepBackward(pre.got, waa.got, da.got, dnext.got);
                ref.tanhStepBackward(pre.want, waa.want, da.want, dnext.want);
                close(dnext, 2e-5, 1e-5, "backward after change " + i);
            }
        }
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
            split("softmaxCrossEntropy", rows > 1,
                    () -> cpu.softmaxCrossEntropy(logits.got, bias.got, targets.got, 0.1f, d.got, losses.got));
            ref.softmaxCrossEntropy(logits.want, bias.want, targets.want, 0.1f, d.want, losses.want);
            close(d, 1e-7, 1e-5, "dlogits inPlace=" + inPlace);
            close(losses, 1e-6, 1e-5, "losses inPlace=" + inPlace);
        }
    }

    @ParameterizedTest(name = "rows={0} width={1}")
    @CsvSource({"1,1", "3,17", "65,33", "1000,5"})
    void meanSquaredErrorMatchesReference(int rows, int width) {
        float[] m = new float[rows];
        for (int r = 0; r < rows; r++) {
            m[r] = r % 7 == 3 ? 0 : 1;
        }
        Pair mask = pair(rows, 1, m);
        Pair bias = random(1, width);
        Pair targets = random(rows, width);
        for (boolean inPlace : new boolean[]{false, true}) {
            Pair predictions = pair(rows, width, randoms(rows * width, 3));
            Pair d = inPlace ? predictions : poisoned(rows, width);
            Pair losses = poisoned(rows, 1);
            split("meanSquaredError", rows > 1, () -> cpu.meanSquaredError(predictions.got, bias.got, targets.got,
                    mask.got, 0.1f, d.got, losses.got));
            ref.meanSquaredError(predictions.want, bias.want, targets.want, mask.want, 0.1f, d.want, losses.want);
            close(d, 1e-7, 1e-5, "dpredictions inPlace=" + inPlace);
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
        split("gatherColumns", rows > 1, () -> cpu.gatherColumns(ids.got, table.got, out.got));
        ref.gatherColumns(ids.want, table.want, out.want);
        close(out, 0, 0, "gatherColumns");

        Pair grad = random(rows, hidden);
        Pair tableGrad = random(hidden, vocab);
        split("scatterAddColumns", hidden > 1, () -> cpu.scatterAddColumns(ids.got, grad.got, tableGrad.got));
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
        split("sgdUpdate", n > 1, () -> cpu.sgdUpdate(p.got, g.got, 0.1f, 0.5f));
        ref.sgdUpdate(p.want, g.want, 0.1f, 0.5f);
        close(p, 1e-7, 1e-6, "sgd");

        Pair m = random(1, n);
        Pair vAbs = pair(1, n, absolute(randoms(n, 0.01)));
        split("adamUpdate", n > 1, () -> cpu.adamUpdate(p.got, g.got, m.got, vAbs.got, 0.01f, 0.9f, 0.999f, 1e-8f, 3, 0.5f));
        ref.adamUpdate(p.want, g.want, m.want, vAbs.want, 0.01f, 0.9f, 0.999f, 1e-8f, 3, 0.5f);
        close(p, 1e-6, 1e-5, "adam param");
        close(m, 1e-7, 1e-6, "adam m");
        close(vAbs, 1e-9, 1e-6, "adam v");

        Pair cache = pair(1, n, absolute(randoms(n, 1)));
        split("adagradUpdate", n > 1, () -> cpu.adagradUpdate(p.got, g.got, cache.got, 0.1f, 1e-8f, 0.5f));
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

    record Result(double loss, float[] grads, float[][] dh0, float[][] finals) { }

    static Result pass(Backend be, RnnConfig config, int batch, int seqLen, float[] inputs, float[] targets,
                               float[][] h0) {
        try (Rnn rnn = new Rnn(be, config); Workspace ws = rnn.workspace(batch, seqLen)) {
            rnn.initialize(7);
            float[] nan = new float[(int) rnn.layout().total()];
            Arrays.fill(nan, Float.NaN);
            be.upload(nan, rnn.grads());
            WindowFill.fill(ws, inputs, targets);
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
}
