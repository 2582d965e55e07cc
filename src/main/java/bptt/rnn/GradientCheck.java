// GradientCheck: BPTT gradients of every cell against central finite differences, in float64 on cpu-ref.
package bptt.rnn;

import bptt.backend.ref.CpuRefBackend;
import bptt.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Compares every analytic gradient (each parameter, gate by gate for LSTM and GRU, and each
 * layer's h0, and c0 for LSTM) with a central finite difference (fourth-order stencil), all in
 * double precision on the reference backend. The error of an element is
 * |analytic − numeric| / max(|analytic|, |numeric|, 1e-6) ({@link #relError}); a row passes when
 * its largest error is below 1e-6.
 */
public final class GradientCheck {
    public static final double TOLERANCE = 1e-6;
    private static final double EPS = 1e-3;
    private static final double[] STENCIL = {1, -8, 0, 8, -1};
    /** Gradients smaller than this are compared by absolute error (see {@link #relError}). */
    static final double SCALE_FLOOR = 1e-6;

    /** One line of the table. */
    public record Row(String name, String formula, String shape, double maxRelError) {
        public boolean passed() { return maxRelError < TOLERANCE; }
    }

    private final RnnConfig config;
    private final Cell cell;
    private final int batch;
    private final int seqLen;
    private final long seed;

    public GradientCheck(RnnConfig config, int batch, int seqLen, long seed) {
        this.config = config;
        this.cell = config.cell();
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
        final double[][] c0 = new double[config.layers()][];

        Problem() {
            SplittableRandom random = new SplittableRandom(seed);
            double[] p = new double[(int) rnn.layout().total()];
            for (int i = 0; i < p.length; i++) {
                p[i] = random.nextDouble(-0.6, 0.6);
            }
            be.uploadDoubles(p, rnn.params());
            params = p;
            int rows = batch * seqLen;
            Window window = ws.window();
            int width = config.tokenInput() ? 1 : config.inputSize();
            for (int i = 0; i < rows * width; i++) {
                if (config.tokenInput()) {
                    window.setToken(i, random.nextInt(config.inputSize()));
                } else {
                    window.setInput(i / width, i % width, (float) random.nextDouble(-1, 1));
                }
            }
            float[] values = new float[config.targetWidth()];
            for (int r = 0; r < window.targetRows(); r++) {
                if (config.output().regression()) {
                    for (int j = 0; j < values.length; j++) {
                        values[j] = (float) random.nextDouble(-1, 1);
                    }
                    window.setTargetValues(r, values, 0);
                } else {
                    window.setTarget(r, random.nextInt(config.outputSize()));
                }
            }
            for (int l = 0; l < config.layers(); l++) {
                h0[l] = randomState(random);
                c0[l] = cell.hasCellState() ? randomState(random) : null;
            }
        }

        private double[] randomState(SplittableRandom random) {
            double[] v = new double[batch * config.hidden()];
            for (int i = 0; i < v.length; i++) {
                v[i] = random.nextDouble(-0.5, 0.5);
            }
            return v;
        }

        double loss() {
            for (int l = 0; l < config.layers(); l++) {
                be.uploadDoubles(h0[l], ws.initialState(l));
                if (c0[l] != null) {
                    be.uploadDoubles(c0[l], ws.initialCellState(l));
                }
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

        /**
         * The largest relative error of an analytic gradient against finite differences of
         * {@code values}, telling the listener after each value.
         */
        double worst(double[] analytic, int from, double[] values, int valuesFrom, int n, Progress progress) {
            double worst = 0;
            for (int i = 0; i < n; i++) {
                worst = Math.max(worst, relError(analytic[from + i], numeric(values, valuesFrom + i)));
                progress.tick();
            }
            return worst;
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

    /** Counts checked values for a {@link Listener}. */
    private static final class Progress {
        private final Listener listener;
        private final long total;
        private long done;

        Progress(Listener listener, long total) {
            this.listener = listener;
            this.total = total;
        }

        void tick() { listener.checked(++done, total); }
    }

    /**
     * Runs the check and returns one row per parameter and per layer's h0 (and c0 for LSTM); a
     * gate-stacked parameter of an LSTM or GRU gets one row per gate, named e.g. {@code Waa0[f]}.
     */
    public List<Row> run() {
        return run((done, total) -> { });
    }

    /** The same, telling {@code listener} after each value (one finite difference is four forward passes). */
    public List<Row> run(Listener listener) {
        try (Problem p = new Problem()) {
            int states = cell.hasCellState() ? 2 : 1;
            Progress progress = new Progress(listener,
                    p.rnn.layout().total() + (long) states * config.layers() * batch * config.hidden());
            p.loss();
            p.ws.backward();
            double[] grads = p.be.downloadDoubles(p.rnn.grads());
            List<Row> rows = new ArrayList<>();
            for (ParameterLayout.Entry e : p.rnn.layout().entries()) {
                boolean perGate = cell != Cell.TANH && isGateStacked(e.name());
                int blocks = perGate ? cell.gates() : 1;
                int per = (int) (e.size() / blocks);
                for (int k = 0; k < blocks; k++) {
                    int from = (int) e.start() + k * per;
                    String shape = e.rows() == 1 ? "(1," + per + ")" : "(" + e.rows() / blocks + "," + e.cols() + ")";
                    rows.add(new Row(perGate ? e.name() + "[" + cell.gateName(k) + "]" : e.name(), formula(e.name(), k),
                            shape, p.worst(grads, from, p.params, from, per, progress)));
                }
            }
            String state = "(" + batch + "," + config.hidden() + ")";
            for (int l = 0; l < config.layers(); l++) {
                double[] dh0 = p.be.downloadDoubles(p.ws.initialStateGrad(l));
                rows.add(new Row("h0_" + l, initialStateFormula(l), state,
                        p.worst(dh0, 0, p.h0[l], 0, dh0.length, progress)));
                if (cell.hasCellState()) {
                    double[] dc0 = p.be.downloadDoubles(p.ws.initialCellStateGrad(l));
                    rows.add(new Row("c0_" + l, "dc0 = dc_0 ⊙ f_0", state,
                            p.worst(dc0, 0, p.c0[l], 0, dc0.length, progress)));
                }
            }
            return rows;
        }
    }

    /**
     * The seed question: W_hh is square per gate, so shapes cannot tell dgᵀ·h_prev from
     * h_prevᵀ·dg. Needs dense input with D = H so that the wrong dW_ih order has the right shape
     * too. Returns, per gate of layer 0, rows for the right and the wrong orders of dW_hh and dW_ih.
     */
    public List<Row> explain() {
        if (config.tokenInput() || config.inputSize() != config.hidden()) {
            throw new IllegalArgumentException("explain needs dense input with D = H, got " + config);
        }
        try (Problem p = new Problem()) {
            p.loss();
            p.ws.backward();
            int h = config.hidden();
            int gh = config.gateWidth();
            int rows = batch * seqLen;
            double[] dg = p.be.downloadDoubles(p.ws.preactivationGrads(0));             // (T·B, G·H)
            double[] dgh = p.be.downloadDoubles(p.ws.recurrentPreactivationGrads(0));   // (T·B, G·H)
            double[] aprev = p.be.downloadDoubles(p.ws.statesBefore(0));                 // (T·B, H)
            double[] x = p.be.downloadDoubles(p.ws.inputs());                            // (T·B, D)
            double[] grads = p.be.downloadDoubles(p.rnn.grads());
            ParameterLayout.Entry waa = p.rnn.layout().entry(ParameterLayout.waa(0));
            ParameterLayout.Entry wax = p.rnn.layout().entry(ParameterLayout.wax(0));
            String shape = "(" + h + "," + h + ")";
            List<Row> list = new ArrayList<>();
            for (int k = 0; k < cell.gates(); k++) {
                int block = k * h * h;  // gate k's (H, H) block of the (G·H, H) weight
                double[] numWaa = new double[h * h];
                double[] numWax = new double[h * h];
                for (int i = 0; i < h * h; i++) {
                    numWaa[i] = p.numeric(p.params, (int) waa.start() + block + i);
                    numWax[i] = p.numeric(p.params, (int) wax.start() + block + i);
                }
                double[] rightH = java.util.Arrays.copyOfRange(grads, (int) waa.start() + block, (int) waa.start() + block + h * h);
                double[] rightX = java.util.Arrays.copyOfRange(grads, (int) wax.start() + block, (int) wax.start() + block + h * h);
                double[] wrongH = transposedProduct(aprev, h, 0, dgh, gh, k * h, rows, h);   // h_prevᵀ·dg
                double[] wrongX = transposedProduct(x, h, 0, dg, gh, k * h, rows, h);        // xᵀ·dg
                String g = cell == Cell.TANH ? "" : "[" + cell.gateName(k) + "]";
                String d = cell == Cell.TANH ? "dpre" : "d" + cell.gateName(k);
                String dh = cell == Cell.GRU && k == 2 ? "(r⊙dn)" : d;
                list.add(new Row("Waa0" + g, pad(dh + "ᵀ · h_prev") + "(right)", shape, maxRelError(rightH, numWaa)));
                list.add(new Row("Waa0" + g, pad("h_prevᵀ · " + dh) + "(wrong)", shape, maxRelError(wrongH, numWaa)));
                list.add(new Row("Wax0" + g, pad(d + "ᵀ · x") + "(right)", shape, maxRelError(rightX, numWax)));
                list.add(new Row("Wax0" + g, pad("xᵀ · " + d) + "(wrong)", shape, maxRelError(wrongX, numWax)));
            }
            return list;
        }
    }

    private static String pad(String s) { return String.format("%-17s", s); }

    /** One line on why dpreᵀ·a_prev is the right order, in index form. */
    public static String whyRightOrder() {
        return "pre_t[b,i] = Σ_j a_{t-1}[b,j]·Waa[i,j] + …, so dL/dWaa[i,j] = Σ_t Σ_b dpre_t[b,i]·a_{t-1}[b,j]:"
                + " row i comes from dpre, column j from a_prev, i.e. dWaa = dpreᵀ·a_prev; the other order is its transpose.";
    }

    /**
     * uᵀ·v over `rows` rows for the h columns of u from column uc (row length uw) and of v from
     * column vc (row length vw): an (h, h) result.
     */
    private static double[] transposedProduct(double[] u, int uw, int uc, double[] v, int vw, int vc, int rows, int h) {
        double[] out = new double[h * h];
        for (int i = 0; i < h; i++) {
            for (int j = 0; j < h; j++) {
                double sum = 0;
                for (int r = 0; r < rows; r++) {
                    sum += u[r * uw + uc + i] * v[r * vw + vc + j];
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

    /**
     * |analytic − numeric| relative to max(|analytic|, |numeric|, {@link #SCALE_FLOOR}): below the
     * floor the finite difference's own float64 round-off (about 1e-12 for a loss of order 1,
     * i.e. 1e-6 of the floor) dominates, so tiny gradients are judged by their absolute error.
     */
    static double relError(double analytic, double numeric) {
        double scale = Math.max(SCALE_FLOOR, Math.max(Math.abs(analytic), Math.abs(numeric)));
        return Math.abs(analytic - numeric) / scale;
    }

    private static boolean isGateStacked(String name) { return !name.equals("Wya") && !name.equals("by"); }

    /**
     * How each gate's pre-activation gradient is formed, one line per gate: the legend of the
     * table's d{gate} symbols. dh_t is dL/dh_t from above plus the gradient from step t+1.
     */
    public static List<String> gateLegend(Cell cell) {
        return switch (cell) {
            case TANH -> List.of("dpre = (1 − a_t²) ⊙ dh_t");
            case LSTM -> List.of(
                    "dc_t = dc_{t+1} ⊙ f_{t+1} + dh_t ⊙ o_t ⊙ (1 − tanh² c_t)",
                    "di = dc_t ⊙ g_t ⊙ i_t(1 − i_t)        df = dc_t ⊙ c_{t-1} ⊙ f_t(1 − f_t)",
                    "dg = dc_t ⊙ i_t ⊙ (1 − g_t²)          do = dh_t ⊙ tanh(c_t) ⊙ o_t(1 − o_t)");
            case GRU -> List.of(
                    "dn = dh_t ⊙ (1 − z_t) ⊙ (1 − n_t²)    dz = dh_t ⊙ (h_{t-1} − n_t) ⊙ z_t(1 − z_t)",
                    "dr = dn ⊙ hn_t ⊙ r_t(1 − r_t), hn_t = h_{t-1}·W_hnᵀ + b_hn;  the recurrent side of n is r_t ⊙ dn");
        };
    }

    /** dh0: the recurrent GEMM of step 0 (plus GRU's direct path). */
    private String initialStateFormula(int layer) {
        return switch (cell) {
            case TANH -> "dh0 = dpre_0 · Waa" + layer;
            case LSTM -> "dh0 = [di,df,dg,do]_0 · W_hh" + layer;
            case GRU -> "dh0 = z_0 ⊙ dh_0 + [dr,dz,r⊙dn]_0 · W_hh" + layer;
        };
    }

    /** The gradient formula of parameter {@code name}'s gate block k (k = 0 for tanh and the output layer). */
    private String formula(String name, int k) {
        if (name.equals("Wya")) {
            return "dWya = Σ_t dy_tᵀ · h_t";
        }
        if (name.equals("by")) {
            return "dby = Σ_t Σ_rows dy_t";
        }
        String d = cell == Cell.TANH ? "dpre" : "d" + cell.gateName(k);
        String dRecurrent = cell == Cell.GRU && k == 2 ? "(r⊙dn)" : d;
        if (name.equals("Wax0") && config.tokenInput()) {
            return "dW_ih[:, x_t] += " + d + "_tᵀ  (scatter-add of one-hot x)";
        }
        if (name.startsWith("Wax")) {
            return "dW_ih = Σ_t " + d + "_tᵀ · x_t";
        }
        if (name.startsWith("Waa")) {
            return "dW_hh = Σ_t " + dRecurrent + "_tᵀ · h_{t-1}";
        }
        if (name.startsWith("ba")) {
            return "db_ih = Σ_t Σ_rows " + d + "_t";
        }
        return "db_hh = Σ_t Σ_rows " + dRecurrent + "_t";
    }
}
