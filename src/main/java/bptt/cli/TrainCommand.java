// TrainCommand: `bptt train` trains a character-level language model and reports what it learned.
package bptt.cli;

import bptt.backend.Backend;
import bptt.train.Corpus;
import bptt.train.MetricsLog;
import bptt.train.Optimizer;
import bptt.train.TrainSettings;
import bptt.train.Trainer;
import bptt.train.TrainingDivergedException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;

@Command(name = "train", mixinStandardHelpOptions = true,
        description = {"Trains a character-level tanh RNN language model with truncated BPTT.",
                "Without --data it trains on a built-in corpus that needs no download."})
public final class TrainCommand implements Callable<Integer> {
    @Option(names = "--data", description = "UTF-8 text file to learn (default: the built-in corpus).")
    Path data;
    @Mixin
    BackendOption backendOption;
    @Option(names = "--hidden", defaultValue = "128", description = "Hidden size H (default ${DEFAULT-VALUE}).")
    int hidden;
    @Option(names = "--layers", defaultValue = "1", description = "Stacked RNN layers L (default ${DEFAULT-VALUE}).")
    int layers;
    @Option(names = "--batch", defaultValue = "32", description = "Parallel streams B (default ${DEFAULT-VALUE}).")
    int batch;
    @Option(names = "--seq-len", defaultValue = "64", description = "BPTT window T in steps (default ${DEFAULT-VALUE}).")
    int seqLen;
    @Option(names = "--steps", defaultValue = "300", description = "Optimizer steps (default ${DEFAULT-VALUE}; 0 = initialise and save only).")
    int steps;
    @Option(names = "--lr", defaultValue = "0.003", description = "Learning rate (default ${DEFAULT-VALUE}).")
    float lr;
    @Option(names = "--optimizer", defaultValue = "adam", description = "sgd, adam or adagrad (default ${DEFAULT-VALUE}).")
    String optimizer;
    @Option(names = "--clip", defaultValue = "5", description = "Clip the gradients' global norm to this; 0 = off (default ${DEFAULT-VALUE}).")
    float clip;
    @Option(names = "--seed", defaultValue = "1", description = "Random seed (default ${DEFAULT-VALUE}).")
    long seed;
    @Option(names = "--val-fraction", defaultValue = "0.1", description = "Tail of the text held out for validation (default ${DEFAULT-VALUE}).")
    double valFraction;
    @Option(names = "--eval-every", defaultValue = "100", description = "Steps between validation passes; 0 = only at the end (default ${DEFAULT-VALUE}).")
    int evalEvery;
    @Option(names = "--sample-every", defaultValue = "0", description = "Steps between printed samples; 0 = never (default ${DEFAULT-VALUE}).")
    int sampleEvery;
    @Option(names = "--log", description = "Write metrics to this file, one JSON object per line.")
    Path log;

    @Override
    public Integer call() {
        PrintStream out = System.out;
        TrainSettings settings = new TrainSettings(hidden, layers, batch, seqLen, steps, lr,
                Optimizer.parseKind(optimizer), clip, seed, valFraction, null, 0, sampleEvery, evalEvery, log);
        Corpus corpus = data == null ? Corpus.builtin(valFraction) : Corpus.load(data, valFraction);
        AtomicBoolean stop = new AtomicBoolean();
        try (Backend backend = backendOption.open();
             Trainer trainer = new Trainer(backend, corpus, settings);
             MetricsLog metrics = new MetricsLog(log, false)) {
            int vocab = corpus.vocabulary().size();
            out.printf(Locale.ROOT, "data: %s, %d training and %d validation characters, vocabulary %d%n",
                    corpus.source(), corpus.trainTokens().length, corpus.validationTokens().length, vocab);
            out.printf(Locale.ROOT, "model: %d layer(s) × %d hidden, %d parameters; backend %s (%s)%n",
                    layers, hidden, trainer.rnn().layout().total(), backend.name(), backend.deviceDescription());
            out.printf(Locale.ROOT, "training: B=%d T=%d %s lr=%s clip=%s; uniform baseline ln V = %.4f%n",
                    batch, seqLen, optimizer, lr, clip, Math.log(vocab));
            Trainer.Summary s = trainer.run(out, metrics, stop::get, () -> { });
            report(out, s, vocab);
            return 0;
        } catch (TrainingDivergedException e) {
            System.err.println("error: " + e.getMessage());
            return 1;
        }
    }

    private static void report(PrintStream out, Trainer.Summary s, int vocab) {
        out.printf(Locale.ROOT, "done: steps %d..%d in %.1f s (%.0f tokens/s); loss %.4f -> %.4f nats (%.3f bpc), baseline %.4f%n",
                s.firstStep() + 1, s.lastStep(), s.seconds(), s.tokensPerSecond(), s.firstLoss(), s.lastLoss(),
                s.lastLoss() / Math.log(2), Math.log(vocab));
        if (s.validation() != null) {
            out.printf(Locale.ROOT, "validation: loss %.4f nats, %.3f bpc over %d characters%n",
                    s.validation().loss(), s.validation().bpc(), s.validation().tokens());
        }
    }
}
