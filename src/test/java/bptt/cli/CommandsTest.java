// CommandsTest: `devices` and `conformance` exit codes and output formats, run through Main.
package bptt.cli;

import bptt.conformance.TestBackends;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CommandsTest {
    private static CliRun run(String... args) { return CliRun.of(args); }

    @Test
    void devicesListsEveryBackendAndExitsZero() {
        CliRun r = run("devices");
        assertEquals(0, r.exit());
        assertTrue(r.out().contains("opencl: "), r.out());
        assertTrue(r.out().contains("cpu-ref: available"), r.out());
        assertTrue(r.out().contains("auto: "), r.out());
    }

    @Test
    void conformanceJsonOfTheCpuBackendAgainstTheReferencePasses() {
        TestBackends.openFresh("cpu").close(); // skipped (or failed, when required) where cpu cannot load
        CliRun r = run("conformance", "--backend", "cpu", "--quick", "--json", "--seed", "5");
        assertEquals(0, r.exit(), r.out());
        assertTrue(r.out().startsWith("{\"seed\":5,"), r.out());
        assertTrue(r.out().contains("\"failed\":0"), r.out());
        assertTrue(r.out().contains("\"backend\":\"cpu\",\"check\":\"model token L=2\""), r.out());
    }

    @Test
    void conformanceOfTheReferenceAgainstItselfIsRefused() {
        assertEquals(2, run("conformance", "--backend", "cpu-ref", "--quick").exit(),
                "cpu-ref against cpu-ref compares nothing and cannot fail");
    }

    @Test
    void anUnknownBackendIsAUserError() {
        assertEquals(2, run("conformance", "--backend", "no-such-backend").exit());
    }
}
