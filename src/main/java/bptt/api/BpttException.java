// BpttException: what bptt could not do with the input or machine it was given, in one line that says what to do.
package bptt.api;

/**
 * Thrown for a backend that is unavailable or out of memory, a checkpoint that is corrupt, of
 * another model or cannot be written, and the like. Its message is one line that says what is
 * wrong and what to do. Invalid arguments (a negative size, an unknown cell, a malformed data
 * file) throw {@link IllegalArgumentException} instead, with the same kind of message.
 */
public class BpttException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * A failure described by {@code message}.
     *
     * @param message what is wrong and what to do
     * @param cause   the underlying failure, or null
     */
    public BpttException(String message, Throwable cause) {
        super(message, cause);
    }
}
