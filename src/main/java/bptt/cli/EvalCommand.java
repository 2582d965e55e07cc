// EvalCommand: `bptt eval` prints a checkpoint's mean loss and bits per character over a whole file.
package bptt.cli;

import bptt.backend.Backend;
import bptt.rnn.Rnn;
import bptt.rnn.Workspace;
import bptt.train.Checkpoint;
import bptt.train.CheckpointIo;
import bptt.train.Corpus;
import bptt.train.Evaluation;
import bptt.train.Vocabulary;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Mean cross-entropy (nats) and bits per character of a checkpoint over a whole text file.")
public final class EvalCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, description = "Model checkpoint (.safetensors).")
    Path checkpoint;
    @Option(names = "--data", required = true, description = "UTF-8 text file to score.")
    Path data;
    @Option(names = "--batch", defaultValue = "16", description = "Parallel streams (default ${DEFAULT-VALUE}).")
    int batch;
    @Option(names = "--seq-len", defaultValue = "128", description = "Window length (default ${DEFAULT-VALUE}).")
    int seqLen;
    @Mixin
    BackendOption backendOption;
    @Option(names = "--json", description = "Print one JSON object: loss, bpc, tokens.")
    boolean json;

    @Override
    public Integer call() {
        if (batch <= 0 || seqLen <= 0) {
            throw new UserError("--batch and --seq-len must be positive");
        }
        Checkpoint ckpt = CheckpointIo.load(checkpoint);
        if (ckpt.vocab() == null) {
            throw new UserError("checkpoint " + checkpoint + " has no vocabulary, so it cannot score text");
        }
        int[] tokens = Vocabulary.ofCodePoints(ckpt.vocab()).encode(Corpus.readText(data));
        int usable = Math.min(batch, Math.max(1, tokens.length / 2));
        try (Backend backend = backendOption.open(); Rnn rnn = new Rnn(backend, ckpt.config());
             Workspace ws = rnn.workspace(usable, seqLen)) {
            backend.upload(ckpt.params(), rnn.params());
            Evaluation.Result r = Evaluation.evaluate(ws, tokens);
            if (json) {
                System.out.printf(Locale.ROOT, "{\"loss\": %.6f, \"bpc\": %.6f, \"tokens\": %d}%n", r.loss(), r.bpc(), r.tokens());
            } else {
                System.out.printf(Locale.ROOT, "%s on %s: loss %.4f nats, %.4f bpc over %d characters (backend %s)%n",
                        checkpoint, data, r.loss(), r.bpc(), r.tokens(), backend.name());
            }
            return 0;
        }
    }
}
