// Check: one op or model run on a backend from seeded inputs, yielding outputs to compare with cpu-ref.
package bptt.conformance;

import bptt.backend.Backend;

import java.util.List;

/**
 * A conformance check. {@link #run} builds fresh inputs from {@code seed} (so cpu-ref and the
 * backend under test see identical inputs), poisons every output buffer with NaN, runs the op
 * and returns the downloaded outputs in a fixed order. It frees what it allocates.
 */
public interface Check {
    /** The op or model, e.g. "softmaxCrossEntropy" or "model token L=2". */
    String name();

    /** The shape, e.g. "N=17 V=33". */
    String shape();

    List<Output> run(Backend backend, long seed);
}
