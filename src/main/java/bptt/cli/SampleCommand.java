// SampleCommand: `bptt sample` generates text from a checkpoint, printing each character as it is made.
package bptt.cli;

import bptt.api.Device;
import bptt.api.Model;
import bptt.api.SavedModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "sample", mixinStandardHelpOptions = true, description = "Generates text from a trained checkpoint.")
public final class SampleCommand implements Callable<Integer> {
    /** Characters kept before they are written, unless a line ends first. */
    private static final int FLUSH_EVERY = 256;

    @Option(names = "--checkpoint", defaultValue = TrainCommand.DEFAULT_SAVE,
            description = "Model checkpoint (.safetensors; default ${DEFAULT-VALUE}, where train saves).")
    Path checkpoint;
    @Option(names = "--length", defaultValue = "500", description = "Characters to generate after the prime (default ${DEFAULT-VALUE}).")
    int length;
    @Option(names = "--temperature", defaultValue = "0.8", description = "Softmax temperature; lower is more conservative (default ${DEFAULT-VALUE}).")
    double temperature;
    @Option(names = "--prime", defaultValue = "", description = "Text to condition on first; it is printed, then --length more characters.")
    String prime;
    @Option(names = "--seed", defaultValue = "1", description = "Random seed (default ${DEFAULT-VALUE}).")
    long seed;
    @Mixin
    BackendOption backendOption;

    @Override
    public Integer call() {
        SavedModel saved = EvalCommand.readCheckpoint(checkpoint);
        if (saved.spec().vocabulary() == null) {
            throw new UserError("checkpoint " + checkpoint + " has no vocabulary, so it cannot produce text");
        }
        PrintStream out = System.out;
        StringBuilder pending = new StringBuilder();
        try (Device device = Device.open(backendOption.backend, backendOption.device); Model model = saved.open(device)) {
            model.sample(prime, length, temperature, seed, cp -> {
                pending.appendCodePoint(cp);
                if (cp == '\n' || pending.length() >= FLUSH_EVERY) {
                    out.print(pending);
                    out.flush();
                    pending.setLength(0);
                    return !out.checkError();  // a closed pipe (sample | head) ends the run
                }
                return true;
            });
        }
        out.println(pending);
        return 0;
    }
}
