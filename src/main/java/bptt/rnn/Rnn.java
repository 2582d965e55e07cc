// Rnn: a stacked RNN's parameters and gradients (tanh, LSTM or GRU cells), each in one slab on a Backend.
package bptt.rnn;

import bptt.backend.Backend;
import bptt.tensor.Tensor;

import java.util.SplittableRandom;

/**
 * Parameters and their gradients, each one (1, P) slab with named views (see
 * {@link ParameterLayout}). The forward and backward passes live in {@link Workspace}, which
 * holds the activations for one (batch, sequence length).
 */
public final class Rnn implements AutoCloseable {
    private final Backend backend;
    private final RnnConfig config;
    private final ParameterLayout layout;
    private final Tensor params; // (1, P)
    private final Tensor grads;  // (1, P)

    public Rnn(Backend backend, RnnConfig config) {
        this.backend = backend;
        this.config = config;
        this.layout = new ParameterLayout(config);
        this.params = backend.alloc(1, (int) layout.total());
        this.grads = backend.alloc(1, (int) layout.total());
    }

    /**
     * PyTorch's initialisation for nn.RNN, nn.LSTM, nn.GRU and nn.Linear(H, V): every weight and
     * bias uniform in [-1/sqrt(H), 1/sqrt(H)], drawn from {@code seed} in slab order.
     */
    public void initialize(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        double bound = 1.0 / Math.sqrt(config.hidden());
        float[] values = new float[(int) layout.total()];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) ((random.nextDouble() * 2 - 1) * bound);
        }
        backend.upload(values, params);
    }

    /**
     * Chrono initialisation (Tallec &amp; Ollivier 2018) for dependencies up to {@code maxSteps}
     * long: PyTorch's initialisation, then each unit's keep gate gets a bias drawn as
     * log U(1, maxSteps − 1), so memories decay over 1 to maxSteps steps instead of halving every
     * step. LSTM: b_f = log u in bias_ih and b_i = −b_f (their bias_hh entries 0); GRU, whose
     * update gate z keeps h (h' = (1−z)·n + z·h): b_z = log u in bias_ih, 0 in bias_hh.
     */
    public void initializeChrono(long seed, int maxSteps) {
        Cell cell = config.cell();
        if (!cell.twoBiases()) {
            throw new IllegalArgumentException("chrono initialisation sets gate biases: it needs --cell lstm or gru");
        }
        if (maxSteps < 3) {
            throw new IllegalArgumentException("chrono initialisation needs dependencies of at least 3 steps, got " + maxSteps);
        }
        initialize(seed);
        SplittableRandom random = new SplittableRandom(~seed);
        float[] values = backend.download(params);
        int h = config.hidden();
        int keep = 1;   // the keep gate is gate 1 of both: f of LSTM's i,f,g,o and z of GRU's r,z,n
        for (int l = 0; l < config.layers(); l++) {
            long bi = layout.entry(ParameterLayout.ba(l)).start();
            long bh = layout.entry(ParameterLayout.bh(l)).start();
            for (int j = 0; j < h; j++) {
                float b = (float) Math.log(1 + random.nextDouble() * (maxSteps - 2));
                values[(int) (bi + keep * h + j)] = b;
                values[(int) (bh + keep * h + j)] = 0f;
                if (cell == Cell.LSTM) {
                    values[(int) (bi + j)] = -b;
                    values[(int) (bh + j)] = 0f;
                }
            }
        }
        backend.upload(values, params);
    }

    public Backend backend() { return backend; }

    public RnnConfig config() { return config; }

    public ParameterLayout layout() { return layout; }

    /** All parameters, (1, P). */
    public Tensor params() { return params; }

    /** All gradients, (1, P), same layout as {@link #params}. */
    public Tensor grads() { return grads; }

    public Tensor param(String name) { return layout.entry(name).of(params); }

    public Tensor grad(String name) { return layout.entry(name).of(grads); }

    /** Activations and scratch for (batch, seqLen) windows, keeping every step's state. */
    public Workspace workspace(int batch, int seqLen) { return new Workspace(this, batch, seqLen, Schedule.full()); }

    /** Activations and scratch for (batch, seqLen) windows under a memory schedule. */
    public Workspace workspace(int batch, int seqLen, Schedule schedule) {
        return new Workspace(this, batch, seqLen, schedule);
    }

    @Override
    public void close() {
        backend.free(params);
        backend.free(grads);
    }
}
