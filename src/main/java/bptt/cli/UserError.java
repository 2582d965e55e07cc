// UserError: bad input from the user; printed as one line "error: ..." with exit code 2.
package bptt.cli;

public final class UserError extends RuntimeException {
    public UserError(String message) {
        super(message);
    }

    public UserError(String message, Throwable cause) {
        super(message, cause);
    }
}
