// Dataset: where training windows come from (a text corpus, or a generated long-range task).
package bptt.train;

import bptt.rnn.RnnConfig;
import bptt.rnn.Window;
import bptt.rnn.Workspace;

/**
 * Fills a (T·B) {@link Window} — inputs and targets, time-major (row t·B + b) — for window
 * {@code window} of epoch {@code epoch}; the same position always gives the same data, so a
 * resumed run sees exactly what an uninterrupted one would.
 */
public interface Dataset {
    /** One line for logs and checkpoints. */
    String description();

    /** Short name: text, copy or adding. */
    String kind();

    /** The model this data needs, with the given hidden size and layers. */
    RnnConfig model(int hidden, int layers);

    int batch();

    int seqLen();

    int windowsPerEpoch();

    /** Writes every row's input and target (−1 where there is none) into {@code into}. */
    void fill(int epoch, int window, Window into);

    /** True when consecutive windows continue the same sequences (truncated BPTT carries the state). */
    boolean carriesState();

    /** The characters of a text model, or null when the inputs are not text. */
    Vocabulary vocabulary();

    /** The score on held-out data, or null when there is none. */
    Evaluation.Result validate(Workspace ws);
}
