// TrainingStep: one optimizer step's work (forward, backward, clipping, update), decided on the host or wholly on the device.
package bptt.train;

import bptt.backend.Backend;
import bptt.backend.DeviceSteps;
import bptt.backend.KernelCalls;
import bptt.backend.StagingBuffer;
import bptt.rnn.Rnn;
import bptt.rnn.Workspace;
import bptt.tensor.Tensor;

/**
 * Runs the step after the window's inputs and targets are on the device. On most backends the
 * host decides: it reads the loss, stops on a non-finite one, reads the gradient norm, clips in
 * double precision and updates. On a {@link DeviceSteps} backend (cuda) the whole step is queued
 * without reading anything back: the device computes the norm and the clipping scale and skips
 * the update when the loss or the norm is not finite, and with graphs on, the step's launches are
 * recorded once and replayed as one CUDA graph (the key is the window's target count, the only
 * host value the launches depend on). Then one download brings back the loss sum and the norm.
 * Either way a diverged step leaves the parameters and the optimizer untouched.
 */
public final class TrainingStep implements AutoCloseable {
    /** The step's mean loss and gradient norm (before clipping), and whether the update was applied. */
    public record Result(double loss, double gradNorm, boolean applied) { }

    /** What a recorded step depends on besides device memory: this step object and the window's target count. */
    private record Key(TrainingStep owner, int targets) { }

    private final Backend backend;
    private final Rnn rnn;
    private final Workspace ws;
    private final Optimizer optimizer;
    private final double clip;
    private final DeviceSteps device;      // null: the host decides
    private final Tensor scalars;          // (1, STEP_SCALARS) on the device path
    private final StagingBuffer corrections;  // Adam's two bias corrections, uploaded in the step

    public TrainingStep(Backend backend, Rnn rnn, Workspace ws, Optimizer optimizer, double clip) {
        this.backend = backend;
        this.rnn = rnn;
        this.ws = ws;
        this.optimizer = optimizer;
        this.clip = clip;
        this.device = backend instanceof DeviceSteps d ? d : null;
        this.scalars = device != null ? backend.alloc(1, KernelCalls.STEP_SCALARS) : null;
        this.corrections = device != null ? backend.allocStaging(2, StagingBuffer.Encoding.FLOAT32, 2) : null;
    }

    /** The step on the window already uploaded. */
    public Result run() { return device != null ? onDevice() : onHost(); }

    private Result onHost() {
        double loss = ws.forward();
        if (!Double.isFinite(loss)) {
            return new Result(loss, Double.NaN, false);
        }
        ws.backward();
        double norm = Math.sqrt(backend.sumOfSquares(rnn.grads()));
        if (!Double.isFinite(norm)) {
            return new Result(loss, norm, false);
        }
        float scale = clip > 0 && norm > clip ? (float) (clip / norm) : 1f;
        optimizer.step(rnn.params(), rnn.grads(), scale);
        return new Result(loss, norm, true);
    }

    private Result onDevice() {
        float[] next = optimizer.nextCorrections();
        corrections.putFloat(0, next[0]);
        corrections.putFloat(1, next[1]);
        Tensor biases = scalars.slice(KernelCalls.BIAS1, 1, 2);               // (1, 2): BIAS1, BIAS2
        device.replay(new Key(this, ws.targetCount()), () -> {
            backend.uploadStaged(corrections, 0, biases);
            ws.queueForward();
            ws.backward();
            device.clipScale(rnn.grads(), ws.lossSum(), (float) clip, scalars);
            optimizer.queueStep(device, rnn.params(), rnn.grads(), scalars);
        });
        float[] s = backend.download(scalars);
        double loss = s[KernelCalls.LOSS_SUM] * (double) ws.lossScale();
        double norm = Math.sqrt(s[KernelCalls.SUM_OF_SQUARES]);
        boolean applied = s[KernelCalls.SKIP] == 0f;
        if (applied) {
            optimizer.setSteps(optimizer.steps() + 1);
        }
        return new Result(loss, norm, applied);
    }

    @Override
    public void close() {
        if (device != null) {
            device.closeGraphs();
            backend.freeStaging(corrections);
            backend.free(scalars);
        }
    }
}
