// ConformanceCommand: `bptt conformance`: every available backend against cpu-ref; a table or JSON; exit 1 on failure.
package bptt.cli;

import bptt.backend.Backend;
import bptt.backend.BackendProvider;
import bptt.backend.BackendUnavailableException;
import bptt.backend.Backends;
import bptt.conformance.Check;
import bptt.conformance.Conformance;
import bptt.conformance.Result;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

/**
 * Runs the conformance matrix (every op, GEMM flag combination and whole forward+backward, on
 * odd shapes up to T = 1000) on each backend and on cpu-ref with the same seeded inputs, then
 * repeats some checks to prove bitwise determinism. What a user runs on a new machine or driver.
 */
@Command(name = "conformance", mixinStandardHelpOptions = true,
        description = "Check backends against cpu-ref (every op and whole forward+backward passes). Exit 1 on any failure.")
public final class ConformanceCommand implements Callable<Integer> {

    @Option(names = "--backend", paramLabel = "NAME",
            description = "Backend to check (default: every available backend except cpu-ref).")
    String backend;

    @Option(names = "--device", paramLabel = "N", defaultValue = "-1",
            description = "Device index of that backend (see 'bptt devices'; default: its default device).")
    int device;

    @Option(names = "--quick", description = "Only the small shapes the unit tests use (no T=1000).")
    boolean quick;

    @Option(names = "--seed", paramLabel = "S", description = "Seed of the random inputs (default: a fresh one, printed).")
    Long seed;

    @Option(names = "--json", description = "Print the results as JSON instead of a table.")
    boolean json;

    @Override
    public Integer call() { return EngineErrors.call(this::check); }

    private Integer check() {
        PrintStream out = System.out;
        long base = seed != null ? seed : new SplittableRandom().nextLong();
        List<String> names = backendsToCheck();
        List<Check> checks = quick ? new ArrayList<>(Conformance.testOps()) : Conformance.fullMatrix();
        if (quick) {
            checks.addAll(Conformance.testModels());
        }
        List<Result> results = new ArrayList<>();
        if (!json) {
            out.println("conformance against cpu-ref, seed " + base + (names.isEmpty()
                    ? ": no backend other than cpu-ref is available, nothing to compare (see 'bptt devices')" : ""));
            out.println(String.format(Locale.ROOT, "%-8s %-30s %-28s %12s %12s  %s",
                    "backend", "op/model", "shape", "max abs err", "max rel err", "result"));
        }
        try (Backend reference = Conformance.reference()) {
            for (String name : names) {
                try (Backend be = Backends.open(name, device)) {
                    for (Check c : checks) {
                        record(results, Conformance.run(c, be, reference, seedFor(base, c)), out);
                    }
                    for (Check c : Conformance.determinism()) {
                        record(results, Conformance.repeat(c, be, seedFor(base, c)), out);
                    }
                }
            }
        }
        long failed = results.stream().filter(r -> !r.pass()).count();
        if (json) {
            out.println(toJson(base, results, failed));
        } else {
            for (Result r : results) {
                if (!r.pass()) {
                    out.println(r.report());
                }
            }
            out.println(results.size() + " checks, " + failed + " failed" + (failed > 0 ? " (reproduce with --seed "
                    + base + ")" : ""));
        }
        return failed == 0 ? 0 : 1;
    }

    private List<String> backendsToCheck() {
        if (backend != null) {
            BackendProvider p = Backends.provider(backend);
            if (p.name().equals("cpu-ref")) {
                throw new UserError("cpu-ref is the reference every backend is compared with; comparing it with itself"
                        + " cannot fail: give another --backend (see 'scripts/bptt devices')");
            }
            BackendProvider.Availability a = p.probe();
            if (!a.available()) {
                throw new BackendUnavailableException(p.name(), a.reason());
            }
            return List.of(p.name());
        }
        List<String> names = new ArrayList<>();
        for (BackendProvider p : Backends.providers()) {
            if (!p.name().equals("cpu-ref") && p.probe().available()) {
                names.add(p.name());
            }
        }
        return names;
    }

    private static long seedFor(long base, Check c) { return base ^ (31L * c.name().hashCode() + c.shape().hashCode()); }

    private void record(List<Result> results, Result r, PrintStream out) {
        results.add(r);
        if (!json) {
            out.println(String.format(Locale.ROOT, "%-8s %-30s %-28s %12.3g %12.3g  %s", r.backend(), r.check(),
                    r.shape(), r.maxAbs(), r.maxRel(), r.pass() ? "pass" : "FAIL"));
            out.flush();
        }
    }

    static String toJson(long seed, List<Result> results, long failed) {
        StringBuilder s = new StringBuilder();
        s.append("{\"seed\":").append(seed).append(",\"checks\":").append(results.size())
                .append(",\"failed\":").append(failed).append(",\"results\":[");
        for (int i = 0; i < results.size(); i++) {
            Result r = results.get(i);
            s.append(i == 0 ? "\n" : ",\n");
            s.append("{\"backend\":").append(quote(r.backend())).append(",\"check\":").append(quote(r.check()))
                    .append(",\"shape\":").append(quote(r.shape())).append(",\"seed\":").append(r.seed())
                    .append(",\"maxAbsErr\":").append(number(r.maxAbs())).append(",\"maxRelErr\":")
                    .append(number(r.maxRel())).append(",\"pass\":").append(r.pass()).append(",\"mismatches\":[");
            for (int j = 0; j < r.mismatches().size(); j++) {
                s.append(j == 0 ? "" : ",").append(quote(r.mismatches().get(j)));
            }
            s.append("]}");
        }
        return s.append("\n]}").toString();
    }

    /** JSON has no NaN: a non-finite error is null. */
    private static String number(double v) { return Double.isFinite(v) ? String.valueOf(v) : "null"; }

    private static String quote(String v) {
        StringBuilder s = new StringBuilder("\"");
        for (char c : v.toCharArray()) {
            switch (c) {
                case '"' -> s.append("\\\"");
                case '\\' -> s.append("\\\\");
                case '\n' -> s.append("\\n");
                default -> {
                    if (c < 0x20) {
                        s.append(String.format("\\u%04x", (int) c));
                    } else {
                        s.append(c);
                    }
                }
            }
        }
        return s.append('"').toString();
    }
}
