// LaunchConfig: grid, block and shared memory of every cuda kernel launch, computed by pure functions.
package bptt.backend.cuda;

/**
 * A 1-D launch of one kernel of {@code kernels/bptt_kernels.cl.cu}: {@code grid} blocks of
 * {@code block} threads, {@code sharedBytes} of dynamic shared memory. Each kernel computes
 * {@code GLOBAL_ID() = (int) (blockIdx.x * blockDim.x + threadIdx.x)} and returns when it is at
 * or above its bound, so the launch rounds {@code threads} up to whole blocks. The factory
 * methods say, per kernel, how many threads it needs (kernels/README.md) and reject launches the
 * device or the kernels' 32-bit indexing cannot run, naming the kernel and the limit.
 *
 * @param threads the kernel's bound: threads at or above it return at once
 */
public record LaunchConfig(String kernel, long threads, int grid, int block, int sharedBytes) {

    /** Threads per block when the device allows it: a multiple of the warp size, fine on every GPU since sm_30. */
    public static final int DEFAULT_BLOCK = 256;

    /** Parts of the first sum-of-squares pass; the same number as the OpenCL backend, so both sum in one order. */
    public static final int SUM_PARTS = 1024;

    /** The device limits a launch must respect (cuDeviceGetAttribute), with the values of every GPU since sm_30. */
    public record Limits(int maxThreadsPerBlock, long maxGridX, int maxSharedBytesPerBlock) {
        public static final Limits TYPICAL = new Limits(1024, Integer.MAX_VALUE, 48 * 1024);

        public Limits {
            if (maxThreadsPerBlock < 1 || maxGridX < 1 || maxSharedBytesPerBlock < 0) {
                throw new IllegalArgumentException("impossible device limits: " + maxThreadsPerBlock
                        + " threads per block, grid x " + maxGridX + ", " + maxSharedBytesPerBlock + " shared bytes");
            }
        }
    }

    /** True when there is nothing to do (zero threads): the backend then launches nothing. */
    public boolean isEmpty() { return grid == 0; }

    /**
     * {@code threads} threads of {@code kernel} in blocks of {@code preferredBlock} (lowered to the
     * device limit and, for small launches, to the thread count rounded up to a warp).
     */
    public static LaunchConfig plan(String kernel, long threads, int preferredBlock, int sharedBytes, Limits limits) {
        if (threads < 0) {
            throw new IllegalArgumentException("kernel " + kernel + ": negative thread count " + threads);
        }
        if (threads > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("kernel " + kernel + " needs " + threads + " threads, but the kernels"
                    + " index elements with 32-bit int: at most 2^31-1 = " + Integer.MAX_VALUE
                    + " per launch; use a smaller --batch, --seq-len or --hidden");
        }
        if (preferredBlock < 1) {
            throw new IllegalArgumentException("kernel " + kernel + ": block size must be positive, got " + preferredBlock);
        }
        if (sharedBytes < 0 || sharedBytes > limits.maxSharedBytesPerBlock()) {
            throw new IllegalArgumentException("kernel " + kernel + " asks for " + sharedBytes
                    + " bytes of shared memory per block; the device allows " + limits.maxSharedBytesPerBlock());
        }
        if (threads == 0) {
            return new LaunchConfig(kernel, 0, 0, 1, sharedBytes);
        }
        int warpRounded = (int) Math.min(preferredBlock, (threads + 31) / 32 * 32);
        int block = Math.min(warpRounded, limits.maxThreadsPerBlock());
        long grid = (threads + block - 1) / block;
        if (grid > limits.maxGridX()) {
            throw new IllegalArgumentException("kernel " + kernel + " needs " + grid + " blocks of " + block
                    + " threads, above the device's grid limit of " + limits.maxGridX() + " blocks");
        }
        if (grid * block - 1 > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("kernel " + kernel + ": " + threads + " threads rounded up to " + grid
                    + " blocks of " + block + " gives thread ids up to " + (grid * block - 1)
                    + ", which overflow the kernels' 32-bit GLOBAL_ID(); use fewer than "
                    + (Integer.MAX_VALUE - block + 2) + " elements per launch");
        }
        return new LaunchConfig(kernel, threads, (int) grid, block, sharedBytes);
    }

    private static LaunchConfig plan(String kernel, long threads, Limits limits) {
        return plan(kernel, threads, DEFAULT_BLOCK, 0, limits);
    }

    // ---- one factory per kernel: the thread count kernels/README.md gives it ---------------

    /**
     * fill, copy, axpy, scale, tanh_backward, tanh_cell_backward, sgd_update, adam_update,
     * adagrad_update, upload_staged: one thread per element.
     */
    public static LaunchConfig elementwise(String kernel, long n, Limits limits) { return plan(kernel, n, limits); }

    /** bias_tanh over x (rows, cols): one thread per element. */
    public static LaunchConfig biasTanh(int rows, int cols, Limits limits) {
        return plan("bias_tanh", (long) rows * cols, limits);
    }

    /** lstm_cell_forward/backward, gru_cell_forward/backward over (rows, hidden) states: one thread per unit of a row. */
    public static LaunchConfig cell(String kernel, int rows, int hidden, Limits limits) {
        return plan(kernel, (long) rows * hidden, limits);
    }

    /** sum_rows of x (rows, cols): one thread per column. */
    public static LaunchConfig sumRows(int cols, Limits limits) { return plan("sum_rows", cols, limits); }

    /** softmax_cross_entropy of logits (rows, cols): one thread per row. */
    public static LaunchConfig softmaxCrossEntropy(int rows, Limits limits) {
        return plan("softmax_cross_entropy", rows, limits);
    }

    /** mean_squared_error of predictions (rows, cols): one thread per row. */
    public static LaunchConfig meanSquaredError(int rows, Limits limits) {
        return plan("mean_squared_error", rows, limits);
    }

    /** gather_columns into out (rows, hidden): one thread per output element. */
    public static LaunchConfig gatherColumns(int rows, int hidden, Limits limits) {
        return plan("gather_columns", (long) rows * hidden, limits);
    }

    /** scatter_add_columns into tableGrad (hidden, vocab): one thread per hidden unit (row of tableGrad). */
    public static LaunchConfig scatterAddColumns(int hidden, Limits limits) {
        return plan("scatter_add_columns", hidden, limits);
    }

    /** Number of partial sums for x of n elements: fixed by n alone, so the summation order is too. */
    public static int sumOfSquaresParts(long n) { return (int) Math.min(n, SUM_PARTS); }

    /** sum_of_squares, first pass: one thread per part. */
    public static LaunchConfig sumOfSquares(long n, Limits limits) {
        return plan("sum_of_squares", sumOfSquaresParts(n), limits);
    }

    /** sum_of_squares_final: a single thread adds the parts in order. */
    public static LaunchConfig sumOfSquaresFinal(Limits limits) { return plan("sum_of_squares_final", 1, limits); }

    @Override
    public String toString() {
        return kernel + "<<<" + grid + ", " + block + ", " + sharedBytes + ">>> for " + threads + " threads";
    }
}
