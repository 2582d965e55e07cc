// ReductionPlan: the shapes of the kernels' reduction trees, functions of the tensor's shape alone.
package bptt.backend;

/**
 * How the reductions of {@code kernels/} split their work (row sums, the sum of squares, softmax
 * lanes, the scatter-add of the one-hot input projection). Each is a tree of passes: every
 * thread sums a fixed set of elements in a fixed order and the next pass combines the partial
 * sums in a fixed order. The shapes below depend on the shape of the data only, never on a
 * device's launch limits, so the cuda and opencl backends add the same numbers in the same order
 * on every device, and a result is bitwise the same run to run.
 */
public final class ReductionPlan {
    private ReductionPlan() { }

    /** Rows summed by one thread of sum_rows's first pass, at least. */
    static final int MIN_ROWS_PER_PART = 32;
    /** Most parts of sum_rows's first pass (so its second pass sums at most this many per column). */
    static final int MAX_ROW_PARTS = 1024;
    /** Most floats of partial sums a first pass writes (16 MiB), unless one part alone needs more. */
    static final long PARTIALS_BUDGET = 1L << 22;
    /** Threads of the sum of squares' first pass, at most. */
    public static final int SQUARES_PARTS = 32768;
    /** Partial sums each thread of a later level of the sum of squares adds. */
    public static final int TREE_WIDTH = 256;
    /** Columns per softmax lane, about: a row of V columns is split into ceil(V / 8) lanes, at most 64. */
    static final int COLUMNS_PER_LANE = 8;
    static final int MAX_LANES = 64;
    /** Rows of a scatter-add part, at least, and most parts. */
    static final int MIN_ROWS_PER_SCATTER_PART = 64;
    static final int MAX_SCATTER_PARTS = 64;

    /** A split of {@code rows} rows into {@code parts} consecutive parts of {@code per} rows (the last may be shorter). */
    public record Parts(int parts, int per) {
        /** Floats of partial sums for {@code width} values per part. */
        public long floats(long width) { return parts * width; }
    }

    /** sum_rows of a (rows, cols) tensor: parts of at least 32 rows, at most 1024 and 16 MiB of partials. */
    public static Parts sumRows(int rows, int cols) {
        long byBudget = Math.max(1, PARTIALS_BUDGET / Math.max(1, cols));
        return split(rows, MIN_ROWS_PER_PART, (int) Math.min(MAX_ROW_PARTS, byBudget));
    }

    /** scatter_add of rows into a (hidden, vocab) table: parts of at least 64 rows, each a (vocab, hidden) partial. */
    public static Parts scatterAdd(int rows, int hidden, int vocab) {
        long byBudget = Math.max(1, PARTIALS_BUDGET / Math.max(1, (long) hidden * vocab));
        return split(rows, MIN_ROWS_PER_SCATTER_PART, (int) Math.min(MAX_SCATTER_PARTS, byBudget));
    }

    private static Parts split(int rows, int minPer, int maxParts) {
        int parts = Math.max(1, Math.min(maxParts, (rows + minPer - 1) / minPer));
        int per = Math.max(1, (rows + parts - 1) / parts);
        return new Parts(Math.max(1, (rows + per - 1) / per), per);
    }

    /**
     * The sizes of the sum of squares' levels for n >= 1 elements: the first pass's threads
     * (min(n, 32768), thread p summing elements p, p + parts, ...), then each later level's
     * ceil(previous / 256), down to 1: the total.
     */
    public static int[] sumOfSquaresLevels(long n) {
        if (n < 1) {
            throw new IllegalArgumentException("a sum of squares of " + n + " elements has no tree");
        }
        int count = 1;
        for (long m = Math.min(n, SQUARES_PARTS); m > 1; m = (m + TREE_WIDTH - 1) / TREE_WIDTH) {
            count++;
        }
        int[] levels = new int[count];
        levels[0] = (int) Math.min(n, SQUARES_PARTS);
        for (int i = 1; i < count; i++) {
            levels[i] = (levels[i - 1] + TREE_WIDTH - 1) / TREE_WIDTH;
        }
        return levels;
    }

    /** Floats of scratch for every level of the tree of n elements but the last (the total has its own place). */
    public static long sumOfSquaresScratch(long n) {
        long sum = 0;
        int[] levels = sumOfSquaresLevels(n);
        for (int i = 0; i + 1 < levels.length; i++) {
            sum += levels[i];
        }
        return sum;
    }

    /** Lanes of a softmax row of {@code cols} columns (lane l holds columns l, l + lanes, ...). */
    public static int softmaxLanes(int cols) {
        return Math.max(1, Math.min(MAX_LANES, (cols + COLUMNS_PER_LANE - 1) / COLUMNS_PER_LANE));
    }
}
