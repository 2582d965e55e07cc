// Scores: how well a model does on data: its mean loss and, by output kind, accuracy or mean absolute error.
package bptt.api;

import bptt.train.Evaluation;

/**
 * A model's score on data, over every position (or sequence) that has a target.
 *
 * @param loss              the mean loss: cross-entropy in nats for classes, the mean squared
 *                          error (over every value) for real values
 * @param targets           how many target rows it averages (positions, or sequences)
 * @param accuracy          the fraction of targets whose class has the largest output, or NaN
 *                          (real values, or text, where bits per character say more)
 * @param meanAbsoluteError the mean |prediction − target| over every value, or NaN for classes
 */
public record Scores(double loss, long targets, double accuracy, double meanAbsoluteError) {
    /** @return true for real-valued outputs: then the loss is the mean squared error */
    public boolean regression() { return !Double.isNaN(meanAbsoluteError); }

    /** @return the mean squared error of real-valued outputs, NaN for classes */
    public double meanSquaredError() { return regression() ? loss : Double.NaN; }

    /** @return the loss in bits per target (bits per character for text); NaN for real values */
    public double bitsPerTarget() { return regression() ? Double.NaN : loss / Math.log(2); }

    static Scores of(Evaluation.Result r) {
        return r == null ? null : new Scores(r.loss(), r.tokens(), r.accuracy(), r.mae());
    }
}
