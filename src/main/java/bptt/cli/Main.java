// Main: the bptt command line (picocli); each subcommand is its own class in this package.
package bptt.cli;

import bptt.api.BpttException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point: {@code bptt <command> [options]}. Errors print one line and exit with code 2. */
@Command(name = "bptt", mixinStandardHelpOptions = true, version = "bptt 0.1.0",
        description = "Trains recurrent neural networks with backpropagation through time.",
        subcommands = {
                CommandLine.HelpCommand.class,
                TrainCommand.class,
                EvalCommand.class,
                SampleCommand.class,
                PredictCommand.class,
                GradcheckCommand.class,
                DevicesCommand.class,
                ConformanceCommand.class,
                BenchCommand.class,
        })
public final class Main implements Runnable {

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the command line and returns its exit code (0 ok, 1 failed check, 2 bad input). */
    public static int execute(String... args) {
        CommandLine cli = new CommandLine(new Main());
        cli.setOut(new java.io.PrintWriter(System.out, true));
        cli.setErr(new java.io.PrintWriter(System.err, true));
        cli.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            Throwable cause = ex;
            if (cause instanceof UserError || cause instanceof IllegalArgumentException || cause instanceof BpttException) {
                cmd.getErr().println("error: " + cause.getMessage());
                return 2;
            }
            if (cause instanceof java.io.UncheckedIOException) {
                cmd.getErr().println("error: " + cause.getMessage());
                return 2;
            }
            throw ex;
        });
        cli.setParameterExceptionHandler((ex, params) -> {
            ex.getCommandLine().getErr().println("error: " + ex.getMessage()
                    + " (see '" + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help')");
            return 2;
        });
        try {
            return cli.execute(args);
        } catch (OutOfMemoryError e) {  // the memory estimate should have said so first; this keeps it one line
            cli.getErr().println("error: out of memory (" + e.getMessage() + "): use a smaller --hidden, --layers,"
                    + " --batch or --seq-len, or --checkpoint-every auto; or give Java more with BPTT_JAVA_OPTS=-Xmx…");
            return 2;
        }
    }
}
