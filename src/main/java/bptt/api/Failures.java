// Failures: turns the engine's internal exceptions into the API's, so callers catch only public types.
package bptt.api;

import bptt.backend.BackendUnavailableException;
import bptt.backend.DeviceOutOfMemoryException;
import bptt.train.CheckpointException;
import bptt.train.TrainingDivergedException;

import java.util.function.Supplier;

/**
 * Every public method that reaches into the engine runs its body through {@link #call}: a
 * diverged run becomes a {@link DivergedException}, an unavailable backend, device memory
 * exhausted or a bad checkpoint a {@link BpttException} (same message);
 * IllegalArgumentException and UncheckedIOException pass unchanged.
 */
final class Failures {
    private Failures() { }

    static <T> T call(Supplier<T> body) {
        try {
            return body.get();
        } catch (TrainingDivergedException e) {
            throw new DivergedException(e.getMessage(), e);
        } catch (BackendUnavailableException | DeviceOutOfMemoryException | CheckpointException e) {
            throw new BpttException(e.getMessage(), e);
        }
    }

    static void run(Runnable body) {
        call(() -> {
            body.run();
            return null;
        });
    }
}
