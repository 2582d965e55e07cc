// ErrorLine: the assertion every bad-input test makes: exit code 2 and one stderr line `error: …` naming what is wrong.
package bptt.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bad input ends a command with exit code 2 and exactly one line on stderr, "error: …", containing every fragment. */
final class ErrorLine {
    private ErrorLine() { }

    static void assertUserError(int code, String stderr, String[] args, String... fragments) {
        String text = stderr.trim();
        assertEquals(2, code, "exit code for " + String.join(" ", args) + "; stderr: " + text);
        assertEquals(1, text.lines().count(), "one line on stderr, got:\n" + text);
        assertTrue(text.startsWith("error: "), text);
        for (String f : fragments) {
            assertTrue(text.contains(f), "'" + f + "' missing in: " + text);
        }
    }
}
