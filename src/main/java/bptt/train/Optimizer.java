// Optimizer: SGD, Adam (PyTorch's rule) and Adagrad (min-char-rnn), run on the device by fused updates.
package bptt.train;

import bptt.backend.Backend;
import bptt.backend.DeviceSteps;
import bptt.backend.KernelCalls;
import bptt.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** Updates the parameter slab from the gradient slab; state slabs share the parameters' layout. */
public final class Optimizer implements AutoCloseable {
    public enum Kind { SGD, ADAM, ADAGRAD }

    public static final float ADAM_BETA1 = 0.9f;
    public static final float ADAM_BETA2 = 0.999f;
    public static final float ADAM_EPS = 1e-8f;
    public static final float ADAGRAD_EPS = 1e-8f;

    private final Backend backend;
    private final Kind kind;
    private final float lr;
    private final Map<String, Tensor> state = new LinkedHashMap<>(); // name -> (1, P)
    private int steps;

    public Optimizer(Backend backend, Kind kind, float lr, int parameterCount) {
        if (!(lr > 0) || Float.isInfinite(lr)) {
            throw new IllegalArgumentException("--lr must be a positive number, got " + lr);
        }
        this.backend = backend;
        this.kind = kind;
        this.lr = lr;
        switch (kind) {
            case ADAM -> {
                state.put("optim.m", backend.alloc(1, parameterCount));
                state.put("optim.v", backend.alloc(1, parameterCount));
            }
            case ADAGRAD -> state.put("optim.cache", backend.alloc(1, parameterCount));
            default -> { }
        }
    }

    public static Kind parseKind(String name) {
        try {
            return Kind.valueOf(name.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown optimizer '" + name + "'; choose sgd, adam or adagrad");
        }
    }

    public Kind kind() { return kind; }

    public float learningRate() { return lr; }

    /** Updates taken so far (Adam's bias correction counts them). */
    public int steps() { return steps; }

    /** Restores the update count when resuming. */
    public void setSteps(int steps) { this.steps = steps; }

    /** Named state slabs, each (1, P), for checkpoints. */
    public Map<String, Tensor> state() { return state; }

    /** One update; gradScale multiplies the gradients first (global-norm clipping). */
    public void step(Tensor params, Tensor grads, float gradScale) {
        steps++;
        switch (kind) {
            case SGD -> backend.sgdUpdate(params, grads, lr, gradScale);
            case ADAM -> backend.adamUpdate(params, grads, state.get("optim.m"), state.get("optim.v"), lr,
                    ADAM_BETA1, ADAM_BETA2, ADAM_EPS, steps, gradScale);
            case ADAGRAD -> backend.adagradUpdate(params, grads, state.get("optim.cache"), lr, ADAGRAD_EPS, gradScale);
        }
    }

    /**
     * Queues the next update on the device: the gradient scale and skip flag come from scalars
     * (the clipping the device decided), Adam's bias corrections from its BIAS1 and BIAS2, which
     * the caller sets to {@link #nextCorrections} first. The update count is the caller's to
     * advance once the step is known to have been applied.
     */
    public void queueStep(DeviceSteps device, Tensor params, Tensor grads, Tensor scalars) {
        switch (kind) {
            case SGD -> device.sgdUpdate(params, grads, lr, scalars);
            case ADAM -> device.adamUpdate(params, grads, state.get("optim.m"), state.get("optim.v"), lr, ADAM_BETA1,
                    ADAM_BETA2, ADAM_EPS, scalars);
            case ADAGRAD -> device.adagradUpdate(params, grads, state.get("optim.cache"), lr, ADAGRAD_EPS, scalars);
        }
    }

    /** Adam's bias corrections 1 − β1^t and 1 − β2^t of the next update t (1 and 1 for SGD and Adagrad). */
    public float[] nextCorrections() {
        return kind == Kind.ADAM
                ? new float[] {KernelCalls.biasCorrection(ADAM_BETA1, steps + 1), KernelCalls.biasCorrection(ADAM_BETA2,
                steps + 1)}
                : new float[] {1f, 1f};
    }

    @Override
    public void close() {
        for (Tensor t : state.values()) {
            backend.free(t);
        }
    }
}
