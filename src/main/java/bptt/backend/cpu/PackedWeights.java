// PackedWeights: recurrent weight matrices packed once into VectorKernels' strips and reused until the weights change.
package bptt.backend.cpu;

import bptt.tensor.Tensor;

import java.nio.FloatBuffer;

/**
 * A small cache of packed copies of weight tensors, each either as stored (W = w) or transposed
 * (W = wᵀ), in the strip layout of {@link VectorKernels}. A copy is valid while its tensor's
 * {@link CpuMemory#version} is unchanged: within a forward or backward sweep Waa is read T
 * times and packed once; an optimizer step (which writes the parameter slab) makes the next
 * sweep repack. Packing is split over the team by strips. The least recently used copy makes
 * room for a new one, so every layer's Waa of a stacked model, both ways, stays packed.
 */
final class PackedWeights {
    /** Copies kept: two per layer (forward and backward) for up to four layers. */
    private static final int CAPACITY = 8;
    /** Larger weights are not packed (the caller falls back to BLAS): 64 Mi floats of heap per copy. */
    static final long MAX_FLOATS = 1L << 26;

    /** One packed copy of W (k, n): strips[s] holds columns [s·STRIP, s·STRIP + STRIP) of W. */
    static final class Packed {
        final int k;
        final int n;
        final float[][] strips;
        CpuMemory memory;
        long offset;
        boolean transposed;
        long version;
        long lastUse;

        Packed(int k, int n) {
            this.k = k;
            this.n = n;
            this.strips = new float[(n + VectorKernels.STRIP - 1) / VectorKernels.STRIP][k * VectorKernels.STRIP];
        }
    }

    private final ThreadTeam team;
    private final Packed[] cache = new Packed[CAPACITY];
    private final float[][] rows;
    private final ThreadTeam.Task packTask = this::packStrips;
    private long clock;
    // The copy being packed and its source, read by the parts.
    private Packed target;
    private Tensor source;

    PackedWeights(ThreadTeam team) {
        this.team = team;
        this.rows = new float[team.size()][0];
    }

    /**
     * W = w (k = w.rows, n = w.cols), or W = wᵀ when {@code transposed}, packed; null when w is
     * too large to pack. w is contiguous.
     */
    Packed get(Tensor w, boolean transposed) {
        if (w.size() > MAX_FLOATS) {
            return null;
        }
        CpuMemory memory = CpuMemory.of(w);
        int k = transposed ? w.cols() : w.rows();
        int n = transposed ? w.rows() : w.cols();
        Packed p = find(memory, w.offset(), transposed, k, n);
        if (p == null) {
            int slot = leastRecentlyUsed();
            Packed old = cache[slot];
            p = old != null && old.k == k && old.n == n ? old : new Packed(k, n);
            cache[slot] = p;
            p.memory = memory;
            p.offset = w.offset();
            p.transposed = transposed;
            p.version = memory.version - 1;
        }
        p.lastUse = ++clock;
        if (p.version != memory.version) {
            pack(w, p);
            p.version = memory.version;
        }
        return p;
    }

    /** Drops the copies of weights in {@code memory} (it is being freed). */
    void forget(CpuMemory memory) {
        for (int i = 0; i < CAPACITY; i++) {
            if (cache[i] != null && cache[i].memory == memory) {
                cache[i] = null;
            }
        }
    }

    private Packed find(CpuMemory memory, long offset, boolean transposed, int k, int n) {
        for (Packed p : cache) {
            if (p != null && p.memory == memory && p.offset == offset && p.transposed == transposed && p.k == k && p.n == n) {
                return p;
            }
        }
        return null;
    }

    /** An empty slot, else the one used longest ago. */
    private int leastRecentlyUsed() {
        int best = 0;
        for (int i = 0; i < CAPACITY; i++) {
            if (cache[i] == null) {
                return i;
            }
            if (cache[i].lastUse < cache[best].lastUse) {
                best = i;
            }
        }
        return best;
    }

    private void pack(Tensor w, Packed p) {
        target = p;
        source = w;
        team.run(packTask, p.strips.length, Math.max(1, (1 << 16) / ((long) p.k * VectorKernels.STRIP)));
        target = null;
        source = null;
    }

    /** Packs strips [from, to) of {@link #target} from {@link #source}. */
    private void packStrips(int worker, int from, int to) {
        Packed p = target;
        FloatBuffer src = CpuMemory.buffer(source);
        int off = CpuMemory.offset(source);
        int ld = source.cols();
        int strip = VectorKernels.STRIP;
        for (int s = from; s < to; s++) {
            float[] dst = p.strips[s];
            int col0 = s * strip;
            int width = Math.min(strip, p.n - col0);
            java.util.Arrays.fill(dst, 0f);
            if (!p.transposed) {          // W[k][col0 + l] = w[k][col0 + l]: one row segment per k
                for (int k = 0; k < p.k; k++) {
                    src.get(off + k * ld + col0, dst, k * strip, width);
                }
            } else {                      // W[k][col0 + l] = w[col0 + l][k]: row col0 + l of w scattered down the strip
                float[] row = row(worker, p.k);
                for (int l = 0; l < width; l++) {
                    src.get(off + (col0 + l) * ld, row, 0, p.k);
                    for (int k = 0; k < p.k; k++) {
                        dst[k * strip + l] = row[k];
                    }
                }
            }
        }
    }

    private float[] row(int worker, int n) {
        if (rows[worker].length < n) {
            rows[worker] = new float[n];
        }
        return rows[worker];
    }
}
