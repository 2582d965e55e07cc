// EngineErrors: the engine diagnostics' own failures (no backend, device memory, a bad checkpoint) as one-line user errors.
package bptt.cli;

import bptt.backend.BackendUnavailableException;
import bptt.backend.DeviceOutOfMemoryException;
import bptt.train.CheckpointException;

import java.util.function.Supplier;

/**
 * bench, gradcheck and conformance work on the engine itself, so its exceptions reach them
 * unwrapped; they run through here, which turns those that mean bad input or an unavailable
 * backend into a {@link UserError} (same message), so Main knows only the API's exceptions.
 */
final class EngineErrors {
    private EngineErrors() { }

    static <T> T call(Supplier<T> body) {
        try {
            return body.get();
        } catch (BackendUnavailableException | DeviceOutOfMemoryException | CheckpointException e) {
            throw new UserError(e.getMessage(), e);
        }
    }

    static void run(Runnable body) {
        call(() -> {
            body.run();
            return null;
        });
    }
}
