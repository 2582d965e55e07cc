// Output: one named result of a check (downloaded values) and the tolerance it is judged with.
package bptt.conformance;

/** @param values what the backend produced, row-major */
public record Output(String name, float[] values, Tolerance tolerance) { }
