// LaunchConfig: grid, block and shared memory of every cuda kernel launch, computed by pure functions.
package bptt.backend.cuda;

/**
 * A 1-D launch of one kernel of {@code kernels/}: {@code grid} blocks of {@code block} threads,
 * {@code sharedBytes} of dynamic shared memory. Each kernel computes
 * {@code GLOBAL_ID() = (int) (blockIdx.x * blockDim.x + threadIdx.x)} and returns when it is at
 * or above its bound, so the launch rounds {@code threads} up to whole blocks. How many threads
 * each kernel needs is {@link bptt.backend.KernelCalls}'s business; this class only turns a
 * thread count into blocks, and rejects launches the device or the kernels' 32-bit indexing
 * cannot run, naming the kernel and the limit. {@link #blockFor} and {@link #gridFor} do it
 * without allocating, for the backend's launches; {@link #plan} returns the whole configuration.
 *
 * @param threads the kernel's bound: threads at or above it return at once
 */
public record LaunchConfig(String kernel, long threads, int grid, int block, int sharedBytes) {

    /** Threads per block when the device allows it: a multiple of the warp size, fine on every GPU since sm_30. */
    public static final int DEFAULT_BLOCK = 256;

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
        if (sharedBytes < 0 || sharedBytes > limits.maxSharedBytesPerBlock()) {
            throw new IllegalArgumentException("kernel " + kernel + " asks for " + sharedBytes
                    + " bytes of shared memory per block; the device allows " + limits.maxSharedBytesPerBlock());
        }
        int block = blockFor(kernel, threads, preferredBlock, limits);
        return new LaunchConfig(kernel, threads, gridFor(kernel, threads, block, limits), block, sharedBytes);
    }

    /** {@code threads} threads of {@code kernel} in blocks of {@link #DEFAULT_BLOCK}, without shared memory. */
    public static LaunchConfig plan(String kernel, long threads, Limits limits) {
        return plan(kernel, threads, DEFAULT_BLOCK, 0, limits);
    }

    /** The block size of a launch of {@code threads} threads (1 when there are none). */
    public static int blockFor(String kernel, long threads, int preferredBlock, Limits limits) {
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
        if (threads == 0) {
            return 1;
        }
        int warpRounded = (int) Math.min(preferredBlock, (threads + 31) / 32 * 32);
        return Math.min(warpRounded, limits.maxThreadsPerBlock());
    }

    /** The grid of a launch of {@code threads} threads in blocks of {@code block} (0 when there are none). */
    public static int gridFor(String kernel, long threads, int block, Limits limits) {
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
        return (int) grid;
    }

    @Override
    public String toString() {
        return kernel + "<<<" + grid + ", " + block + ", " + sharedBytes + ">>> for " + threads + " threads";
    }
}
