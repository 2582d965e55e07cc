// StopSignals: Ctrl-C (SIGINT) and SIGTERM ask a training run to finish its step and save; a second signal ends it at once.
package bptt.cli;

import sun.misc.Signal;
import sun.misc.SignalHandler;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Installed for the length of one command. Before {@link #arm} (while the run is still being set
 * up, when there is nothing to save) a signal ends the process at once with 128 + its number, as
 * the default handlers would; once armed, the first signal only sets {@link #requested} and the
 * run stops after its current step, saves and exits with {@link #exitCode}; a second ends the
 * process at once. Closing puts the previous handlers back.
 */
final class StopSignals implements AutoCloseable {
    private static final String[] NAMES = {"INT", "TERM"};

    private final Map<Signal, SignalHandler> previous = new LinkedHashMap<>();
    private volatile boolean armed;
    private volatile int received;

    StopSignals() {
        for (String name : NAMES) {
            Signal signal = new Signal(name);
            previous.put(signal, Signal.handle(signal, this::onSignal));
        }
    }

    private void onSignal(Signal signal) {
        int code = 128 + signal.getNumber();
        if (!armed || received != 0) {
            Runtime.getRuntime().halt(code);
        }
        received = code;
        System.err.println("\n" + (signal.getName().equals("INT") ? "interrupt" : "SIG" + signal.getName())
                + ": finishing the current step and saving a checkpoint (a second signal ends at once)");
    }

    /** From now on the first signal asks for a graceful stop. */
    void arm() { armed = true; }

    /** Whether a stop was asked for. */
    boolean requested() { return received != 0; }

    /** 130 after Ctrl-C, 143 after SIGTERM. */
    int exitCode() { return received; }

    /**
     * Puts back each previous handler. Where the JVM had none of its own (sun.misc.Signal then
     * hands back a wrapper of nothing, which it refuses to reinstall: seen when commands run one
     * after another in one JVM), this one stays, disarmed, so a signal still ends the process
     * with 128 + its number.
     */
    @Override
    public void close() {
        armed = false;
        previous.forEach((signal, handler) -> {
            try {
                Signal.handle(signal, handler);
            } catch (NullPointerException noPreviousHandler) {
                // nothing to put back: keep the disarmed handler
            }
        });
    }
}
