// SampleCommand: `bptt sample` generates text from a checkpoint.
package bptt.cli;

import bptt.backend.Backend;
import bptt.rnn.Rnn;
import bptt.train.Checkpoint;
import bptt.train.CheckpointIo;
import bptt.train.Sampler;
import bptt.train.Vocabulary;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "sample", mixinStandardHelpOptions = true, description = "Generates text from a trained checkpoint.")
public final class SampleCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, description = "Model checkpoint (.safetensors).")
    Path checkpoint;
    @Option(names = "--length", defaultValue = "500", description = "Characters to generate (default ${DEFAULT-VALUE}).")
    int length;
    @Option(names = "--temperature", defaultValue = "0.8", description = "Softmax temperature; lower is more conservative (default ${DEFAULT-VALUE}).")
    double temperature;
    @Option(names = "--prime", defaultValue = "", description = "Text to condition on first.")
    String prime;
    @Option(names = "--seed", defaultValue = "1", description = "Random seed (default ${DEFAULT-VALUE}).")
    long seed;
    @Mixin
    BackendOption backendOption;

    @Override
    public Integer call() {
        Checkpoint ckpt = CheckpointIo.load(checkpoint);
        if (ckpt.vocab() == null) {
            throw new UserError("checkpoint " + checkpoint + " has no vocabulary, so it cannot produce text");
        }
        try (Backend backend = backendOption.open(); Rnn rnn = ckpt.model(backend)) {
            System.out.println(Sampler.sample(rnn, Vocabulary.ofCodePoints(ckpt.vocab()), prime, length, temperature, seed));
            return 0;
        }
    }
}
