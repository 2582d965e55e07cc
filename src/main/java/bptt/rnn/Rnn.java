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
