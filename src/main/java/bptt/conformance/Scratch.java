// Scratch: allocations of one check run (seeded inputs, NaN-poisoned outputs), freed together.
package bptt.conformance;

import bptt.backend.Backend;
import bptt.backend.StagingBuffer;
import bptt.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/** Allocates through upload only, so a broken fill kernel cannot hide a broken op. */
final class Scratch implements AutoCloseable {
    final Backend be;
    final SplittableRandom random;
    private final List<Tensor> roots = new ArrayList<>();
    private final List<StagingBuffer> staging = new ArrayList<>();

    Scratch(Backend be, long seed) {
        this.be = be;
        this.random = new SplittableRandom(seed);
    }

    /** A (rows, cols) tensor holding {@code values}. */
    Tensor tensor(int rows, int cols, float[] values) {
        Tensor t = be.alloc(rows, cols);
        roots.add(t);
        be.upload(values, t);
        return t;
    }

    /** A (rows, cols) tensor of standard normal values times {@code scale}. */
    Tensor gaussian(int rows, int cols, double scale) { return tensor(rows, cols, gaussianValues(rows * cols, scale)); }

    /** A (rows, cols) tensor of values uniform in [lo, hi). */
    Tensor uniform(int rows, int cols, double lo, double hi) {
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (lo + (hi - lo) * random.nextDouble());
        }
        return tensor(rows, cols, v);
    }

    /** A host staging buffer of the backend, freed with the scratch. */
    StagingBuffer staging(long length, StagingBuffer.Encoding encoding, int maxUpload) {
        StagingBuffer b = be.allocStaging(length, encoding, maxUpload);
        staging.add(b);
        return b;
    }

    /** A (rows, cols) output tensor filled with NaN. */
    Tensor poisoned(int rows, int cols) { return tensor(rows, cols, nans(rows * cols)); }

    /** A (rows, 1) tensor of integer ids in [lo, hi). */
    Tensor ids(int rows, int lo, int hi) {
        float[] v = new float[rows];
        for (int i = 0; i < rows; i++) {
            v[i] = lo + random.nextInt(hi - lo);
        }
        return tensor(rows, 1, v);
    }

    float[] gaussianValues(int n, double scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (random.nextGaussian() * scale);
        }
        return v;
    }

    static float[] nans(int n) {
        float[] v = new float[n];
        Arrays.fill(v, Float.NaN);
        return v;
    }

    Output out(String name, Tensor t, Tolerance tol) { return new Output(name, be.download(t), tol); }

    @Override
    public void close() {
        for (Tensor t : roots) {
            be.free(t);
        }
        roots.clear();
        for (StagingBuffer b : staging) {
            be.freeStaging(b);
        }
        staging.clear();
    }
}
