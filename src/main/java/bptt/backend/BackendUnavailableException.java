// BackendUnavailableException: a backend that cannot run here, with the reason a user can act on.
package bptt.backend;

public final class BackendUnavailableException extends RuntimeException {
    public BackendUnavailableException(String backend, String reason) {
        super(backend + " unavailable: " + reason);
    }
}
