// DeviceSteps: a backend that runs a whole training step on the device and can replay it as one CUDA graph.
package bptt.backend;

import bptt.tensor.Tensor;

/**
 * What lets a training step (forward, backward, clipping, update) be queued without the host
 * reading anything back until it ends: global-norm clipping decided on the device, optimizer
 * updates that read their scalars from device memory ({@link KernelCalls#STEP_SCALARS}: the
 * gradient scale, Adam's bias corrections, a skip flag, then the sum of squares and the loss
 * sum the clipping wrote), host values uploaded in stream order from host staging
 * ({@link Backend#uploadStaged}), and {@link #replay}, which records the step's device work once and launches it as one graph after.
 * The cuda backend offers it; eager and replayed steps run the same kernels on the same values,
 * so they give bitwise the same results.
 */
public interface DeviceSteps {

    /** Queues scalars' sum of squares = Σ grads², loss sum = lossSum (1, 1), gradient scale and skip flag. */
    void clipScale(Tensor grads, Tensor lossSum, float clip, Tensor scalars);

    /** SGD on the device: the gradient scale and skip flag come from scalars. */
    void sgdUpdate(Tensor param, Tensor grad, float lr, Tensor scalars);

    /** Adam on the device: the gradient scale, bias corrections and skip flag come from scalars. */
    void adamUpdate(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2, float eps,
                    Tensor scalars);

    /** Adagrad on the device: the gradient scale and skip flag come from scalars. */
    void adagradUpdate(Tensor param, Tensor grad, Tensor cache, float lr, float eps, Tensor scalars);

    /**
     * Runs {@code step}, which must only queue device work (no downloads, uploads or waits): with
     * graphs on, the first call for a key runs it as is, the second records it into a CUDA graph
     * and every later call launches that graph, so the host runs none of the step's code again.
     * The key must capture everything the step's launches depend on besides device memory (sizes,
     * host scalars); the tensors it uses must outlive the graphs ({@link #closeGraphs}).
     */
    void replay(Object key, Runnable step);

    /** Turns graphs on (the default where capture works) or off: off, {@link #replay} runs every step eagerly. */
    void useGraphs(boolean on);

    /** Whether {@link #replay} records and launches graphs. */
    boolean graphs();

    /** Destroys every graph {@link #replay} made (before the tensors they use are freed). */
    void closeGraphs();
}
