// OutputKind: what a model's output layer predicts (classes or real values, at every step or once per sequence) and its loss.
package bptt.rnn;

import java.util.Locale;

/**
 * The output layer y = h·Wyaᵀ + by (V or D_out columns) is read as:
 * <ul>
 *   <li>{@link #CLASSES}: one of V classes at every step, softmax cross-entropy (a language model);</li>
 *   <li>{@link #SEQUENCE_CLASS}: one of V classes per sequence, from the last step's state;</li>
 *   <li>{@link #VALUES}: D_out real values at every step, mean squared error (forecasting);</li>
 *   <li>{@link #SEQUENCE_VALUES}: D_out real values per sequence, from the last step's state.</li>
 * </ul>
 * A per-sequence output has one target row per sequence (B rows per window instead of T·B), and
 * only the window's last step feeds the output layer.
 */
public enum OutputKind {
    CLASSES("classes", false, false),
    SEQUENCE_CLASS("sequence_class", true, false),
    VALUES("values", false, true),
    SEQUENCE_VALUES("sequence_values", true, true);

    private final String id;
    private final boolean perSequence;
    private final boolean regression;

    OutputKind(String id, boolean perSequence, boolean regression) {
        this.id = id;
        this.perSequence = perSequence;
        this.regression = regression;
    }

    /** The name in a checkpoint's config ("output"). */
    public String id() { return id; }

    /** True when only the last step of a window is scored: one target row per sequence. */
    public boolean perSequence() { return perSequence; }

    /** True for real-valued outputs with mean squared error; false for classes with cross-entropy. */
    public boolean regression() { return regression; }

    /** The output of this kind, per step or per sequence. */
    public static OutputKind of(boolean regression, boolean perSequence) {
        for (OutputKind o : values()) {
            if (o.regression == regression && o.perSequence == perSequence) {
                return o;
            }
        }
        throw new IllegalStateException("every combination has an output");
    }

    /** The output a checkpoint's config names, or null. */
    public static OutputKind ofId(String id) {
        for (OutputKind o : values()) {
            if (o.id.equals(id.toLowerCase(Locale.ROOT))) {
                return o;
            }
        }
        return null;
    }
}
