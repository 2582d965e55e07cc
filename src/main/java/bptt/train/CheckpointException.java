// CheckpointException: a checkpoint file that cannot be written, read or used, with what to do about it.
package bptt.train;

/** Every failure to save or load a checkpoint; the message names the file, the problem and a remedy. */
public final class CheckpointException extends RuntimeException {
    public CheckpointException(String message) {
        super(message);
    }

    public CheckpointException(String message, Throwable cause) {
        super(message, cause);
    }
}
