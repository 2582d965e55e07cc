// DeviceOutOfMemoryException: a device allocation failed; the message gives sizes and what to try.
package bptt.backend;

/** Raised instead of a raw driver error when a device runs out of memory; the CLI prints its message. */
public final class DeviceOutOfMemoryException extends RuntimeException {
    public DeviceOutOfMemoryException(String message) {
        super(message);
    }
}
