// GradientCheck: BPTT gradients against central finite differences, in float64 on cpu-ref.
package bptt.rnn;

import bptt.backend.ref.CpuRefBackend;
import bptt.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Compares every analytic gradient (each parameter and each layer's h0) with a central finite
 * difference (fourth-order stencil), all in double precision on the reference backend.
 * The error of an element is |analytic − numeric| / max(|analytic|, |numeric|), taken as 0
 * when both are below 1e-12; a parameter passes when its largest error is below 1e-6.
 */
public final class GradientCheck {
    public static final double TOLERANCE = 1e-6;
    private static final double EPS = 1e-3;
    private static final double[] STENCIL = {1, -8, 0, 8, -1};

    /** One line of the table. */
    public record Row(String name, String formula, String shape, double maxRelError) {
        public boolean passed() { return maxRelError < TOLERANCE; }
    }

    private final RnnConfig config;
    private final int batch;
    private final int seqLen;
    private final long seed;

    public GradientCheck(RnnConfig config, int batch, int seqLen, long seed) {
        this.config = config;
        this.batch = batch;
        this.seqLen = seqLen;
        this.seed = seed;
    }

    /** Everything a check needs: the model and one window, on a float64 cpu-ref. */
    private final class Problem implements AutoCloseable {
        final CpuRefBackend be = CpuRefBackend.float64();
        final Rnn rnn = new Rnn(be, config);
        final Workspace ws = rnn.workspace(batch, seqLen);
        final double[] params;
        final double[][] h0 = new double[config.layers()][];

        Problem() {
            SplittableRandom random = new SplittableRandom(seed);
            double[] p = new double[(int) rnn.layout().total()];
            for (int i = 0; i < p.length; i++) {
                p[i] = random.nextDouble(-0.6, 0.6);
            }
            be.uploadDoubles(p, rnn.params());
            params = p;
            int rows = batch * seqLen;
            double[] inputs = new double[(int) ws.inputs().size()];
            for (int i = 0; i < inputs.length; i++) {
                inputs[i] = config.tokenInput() ? random.nextInt(config.inputSize()) : random.nextDouble(-1, 1);
            }
            be.uploadDoubles(inputs, ws.inputs());
            float[] targets = new float[rows];
            for (int i = 0; i < rows; i++) {
                targets[i] = random.nextInt(config.outputSize());
            }
            ws.setTargets(targets);
            for (int l = 0; l < config.layers(); l++) {
                h0[l] = new double[batch * config.hidden()];
                for (int i = 0; i < h0[l].length; i++) {
                    h0[l][i] = random.nextDouble(-0.5, 0.5);
                }
                be.uploadDoubles(h0[l], ws.initialState(l));
            }
        }

        double loss() {
            for (int l = 0; l < config.layers(); l++) {
                be.uploadDoubles(h0[l], ws.initialState(l));
            }
            be.uploadDoubles(params, rnn.params());
            return ws.forward();
        }

        /**
         * Fourth-order central difference of the loss with respect to values[i]:
         * (−L(θ+2ε) + 8L(θ+ε) − 8L(θ−ε) + L(θ−2ε)) / 12ε. Its truncation error is O(ε⁴), so
         * ε can be large enough that float64 round-off stays far below the 1e-6 tolerance.
         */
        double numeric(double[] values, int i) {
            double keep = values[i];
            double sum = 0;
            for (int k : new int[]{-2, -1, 1, 2}) {
                values[i] = keep + k * EPS;
                sum += STENCIL[k + 2] * loss();
            }
            values[i] = keep;
            return sum / (12 * EPS);
        }

        @Override
        public void close() {
            ws.close();
            rnn.close();
        }
    }

    /** Told how many of the gradient values have been checked so far, of how many. */
    @FunctionalInterface
    public interface Listener {
        void checked(long done, long total);
    }

    /** Runs the check and returns one row per parameter and per layer's h0. */
    public List<Row> run() {
        return run((done, total) -> { });
    }

    /** The same, telling {@code listener} after each value (one finite difference is four forward passes). */
    public List<Row> run(Listener listener) {
        try (Problem p = new Problem()) {
            long total = p.rnn.layout().total() + (long) config.layers() * batch * config.hidden();
            long done = 0;
            p.loss();
            p.ws.backward();
            double[] grads = p.be.downloadDoubles(p.rnn.grads());
            List<Row> rows = new ArrayList<>();
            for (ParameterLayout.Entry e : p.rnn.layout().entries()) {
                double worst = 0;
                for (long i = e.start(); i < e.start() + e.size(); i++) {
                    worst = Math.max(worst, relError(grads[(int) i], p.numeric(p.params, (int) i)));
                    listener.checked(++done, total);
                }
                rows.add(new Row(e.name(), formula(e.name()), "(" + e.rows() + "," + e.cols() + ")", worst));
            }
            for (int l = 0; l < config.layers(); l++) {
                double[] dh0 = p.be.downloadDoubles(p.ws.initialStateGrad(l));
                double worst = 0;
                for (int i = 0; i < dh0.length; i++) {
                    worst = Math.max(worst, relError(dh0[i], p.numeric(p.h0[l], i)));
                    listener.checked(++done, total);
                }
                rows.add(new Row("h0_" + l, "dh0 = dpre_0 · Waa" + l,
                        "(" + batch + "," + config.hidden() + ")", worst));
            }
            return rows;
        }
    }

    /**
     * The seed question: Waa is square, so shapes cannot tell dpreᵀ·a_prev from a_prevᵀ·dpre.
     * Needs dense input with D = H so that the wrong dWax order has the right shape too.
     * Returns rows for the right and the wrong orders of dWaa and dWax of layer 0.
     */
    public List<Row> explain() {
        if (config.tokenInput() || config.inputSize() != config.hidden()) {
            throw new IllegalArgumentException("explain needs dense input with D = H, got " + config);
        }
        try (Problem p = new Problem()) {
            p.loss();
            p.ws.backward();
            int h = config.hidden();
            int rows = batch * seqLen;
            double[] dpre = p.be.downloadDoubles(p.ws.preactivationGrads(0));                 // (T·B, H)
            double[] aprev = p.be.downloadDoubles(p.ws.statesBefore(0));                       // (T·B, H)
            double[] x = p.be.downloadDoubles(p.ws.inputs());                                  // (T·B, D)
            double[] right = p.be.downloadDoubles(p.rnn.grad(ParameterLayout.waa(0)));
            double[] rightX = p.be.downloadDoubles(p.rnn.grad(ParameterLayout.wax(0)));
            double[] wrong = transposedProduct(aprev, dpre, rows, h);   // a_prevᵀ·dpre
            double[] wrongX = transposedProduct(x, dpre, rows, h);      // xᵀ·dpre
            ParameterLayout.Entry waa = p.rnn.layout().entry(ParameterLayout.waa(0));
            ParameterLayout.Entry wax = p.rnn.layout().entry(ParameterLayout.wax(0));
            double[] numWaa = new double[h * h];
            double[] numWax = new double[h * h];
            for (int i = 0; i < h * h; i++) {
                numWaa[i] = p.numeric(p.params, (int) waa.start() + i);
                numWax[i] = p.numeric(p.params, (int) wax.start() + i);
            }
            String shape = "(" + h + "," + h + ")";
            return List.of(
                    new Row("Waa0", "dpreᵀ · a_prev   (right)", shape, maxRelError(right, numWaa)),
                    new Row("Waa0", "a_prevᵀ · dpre   (wrong)", shape, maxRelError(wrong, numWaa)),
                    new Row("Wax0", "dpreᵀ · x        (right)", shape, maxRelError(rightX, numWax)),
                    new Row("Wax0", "xᵀ · dpre        (wrong)", shape, maxRelError(wrongX, numWax)));
        }
    }

    /** One line on why dpreᵀ·a_prev is the right order, in index form. */
    public static String whyRightOrder() {
        return "pre_t[b,i] = Σ_j a_{t-1}[b,j]·Waa[i,j] + …, so dL/dWaa[i,j] = Σ_t Σ_b dpre_t[b,i]·a_{t-1}[b,j]:"
                + " row i comes from dpre, column j from a_prev, i.e. dWaa = dpreᵀ·a_prev; the other order is its transpose.";
    }

    /** uᵀ·v for u, v of shape (rows, h): an (h, h) result. */
    private static double[] transposedProduct(double[] u, double[] v, int rows, int h) {
        double[] out = new double[h * h];
        for (int i = 0; i < h; i++) {
            for (int j = 0; j < h; j++) {
                double sum = 0;
                for (int r = 0; r < rows; r++) {
                    sum += u[r * h + i] * v[r * h + j];
                }
                out[i * h + j] = sum;
            }
        }
        return out;
    }

    private static double maxRelError(double[] analytic, double[] numeric) {
        double worst = 0;
        for (int i = 0; i < analytic.length; i++) {
            worst = Math.max(worst, relError(analytic[i], numeric[i]));
        }
        return worst;
    }

    static double relError(double analytic, double numeric) {
        double scale = Math.max(Math.abs(analytic), Math.abs(numeric));
        return scale < 1e-12 ? 0 : Math.abs(analytic - numeric) / scale;
    }

    private String formula(String name) {
        if (name.equals("Wax0") && config.tokenInput()) {
            return "dWax[:, x_t] += dpre_tᵀ  (scatter-add of one-hot x)";
        }
        if (name.startsWith("Wax")) {
            return "dWax = Σ_t dpre_tᵀ · x_t";
        }
        if (name.startsWith("Waa")) {
            return "dWaa = Σ_t dpre_tᵀ · a_{t-1}";
        }
        if (name.startsWith("ba")) {
            return "dba = Σ_t Σ_rows dpre_t";
        }
        if (name.equals("Wya")) {
            return "dWya = Σ_t dy_tᵀ · a_t";
        }
        return "dby = Σ_t Σ_rows dy_t";
    }
}
