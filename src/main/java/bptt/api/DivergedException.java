// DivergedException: training went non-finite (NaN or infinite loss, gradients or weights); the last good checkpoint is named.
package bptt.api;

/**
 * Thrown by training when the loss, the gradients or the weights stop being finite. Nothing
 * non-finite is ever saved: the message names the last checkpoint known good (the last one saved,
 * or the one resumed from), or says that there is none, and suggests a lower learning rate or
 * clipping.
 */
public final class DivergedException extends BpttException {
    private static final long serialVersionUID = 1L;

    DivergedException(String message, Throwable cause) {
        super(message, cause);
    }
}
