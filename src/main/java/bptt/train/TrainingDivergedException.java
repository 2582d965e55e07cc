// TrainingDivergedException: NaN or Inf in the loss or the gradients; names the step and what is intact.
package bptt.train;

public final class TrainingDivergedException extends RuntimeException {
    public TrainingDivergedException(String message) {
        super(message);
    }
}
