// Tensor: a row-major float32 matrix view over backend memory (offset, rows, cols, ld). No math.
package bptt.tensor;

import java.util.Objects;

/**
 * A rows x cols row-major view into one allocation of a backend. Element (r, c) lives at
 * {@code offset + r*ld + c} in the allocation. Views share memory with their parent; only the
 * root (what {@code Backend.alloc} returned) may be freed.
 */
public final class Tensor {
    private final DeviceMemory memory;
    private final long offset;
    private final int rows;
    private final int cols;
    private final int ld;

    public Tensor(DeviceMemory memory, long offset, int rows, int cols, int ld) {
        Objects.requireNonNull(memory, "memory");
        if (rows < 0 || cols < 0) {
            throw new IllegalArgumentException("negative shape (" + rows + "," + cols + ")");
        }
        if (ld < cols || ld < 1) {
            throw new IllegalArgumentException("leading dimension " + ld + " < cols " + cols);
        }
        if (offset < 0 || (rows > 0 && cols > 0 && offset + (long) (rows - 1) * ld + cols > memory.capacity())) {
            throw new IllegalArgumentException("view (" + rows + "," + cols + ") ld=" + ld + " at offset " + offset
                    + " exceeds its allocation of " + memory.capacity() + " floats");
        }
        this.memory = memory;
        this.offset = offset;
        this.rows = rows;
        this.cols = cols;
        this.ld = ld;
    }

    public DeviceMemory memory() { return memory; }
    public long offset() { return offset; }
    public int rows() { return rows; }
    public int cols() { return cols; }
    /** Distance in elements between the starts of consecutive rows. */
    public int ld() { return ld; }
    public long size() { return (long) rows * cols; }

    /** True when the rows*cols elements are stored back to back. */
    public boolean isContiguous() { return ld == cols || rows <= 1 || cols == 0; }

    /** Rows [r0, r0+n) of this view. */
    public Tensor rows(int r0, int n) {
        if (r0 < 0 || n < 0 || r0 + n > rows) {
            throw new IllegalArgumentException("rows [" + r0 + "," + (r0 + n) + ") outside " + shape());
        }
        return new Tensor(memory, offset + (long) r0 * ld, n, cols, ld);
    }

    /** The sub-block of n rows and m columns whose top-left corner is (r0, c0). */
    public Tensor block(int r0, int c0, int n, int m) {
        if (r0 < 0 || c0 < 0 || n < 0 || m < 0 || r0 + n > rows || c0 + m > cols) {
            throw new IllegalArgumentException("block (" + r0 + "," + c0 + ")+(" + n + "," + m + ") outside " + shape());
        }
        return new Tensor(memory, offset + (long) r0 * ld + c0, n, m, ld);
    }

    /**
     * A contiguous (rows, cols) matrix starting {@code start} elements into this contiguous
     * tensor: how named parameters are carved out of one slab.
     */
    public Tensor slice(long start, int nRows, int nCols) {
        if (!isContiguous()) {
            throw new IllegalArgumentException("slice needs a contiguous tensor, got " + describe());
        }
        if (start < 0 || start + (long) nRows * nCols > size()) {
            throw new IllegalArgumentException("slice of (" + nRows + "," + nCols + ") at " + start + " outside " + shape());
        }
        return new Tensor(memory, offset + start, nRows, nCols, Math.max(nCols, 1));
    }

    /** The same elements seen as a (nRows, nCols) contiguous matrix. */
    public Tensor reshape(int nRows, int nCols) {
        if ((long) nRows * nCols != size()) {
            throw new IllegalArgumentException("cannot reshape " + shape() + " to (" + nRows + "," + nCols + ")");
        }
        return slice(0, nRows, nCols);
    }

    /** True when the two views may touch a common element. */
    public boolean overlaps(Tensor other) {
        if (memory != other.memory || size() == 0 || other.size() == 0) {
            return false;
        }
        long aEnd = offset + (long) (rows - 1) * ld + cols;
        long bEnd = other.offset + (long) (other.rows - 1) * other.ld + other.cols;
        return offset < bEnd && other.offset < aEnd;
    }

    public String shape() { return "(" + rows + "," + cols + ")"; }

    public String describe() {
        return shape() + (ld != cols ? " ld=" + ld : "") + (offset != 0 ? " @" + offset : "");
    }

    @Override
    public String toString() { return "Tensor" + describe(); }
}
