// OpenClLibraryProbeTest: a missing OpenCL library is found out silently, before JOCL prints "Could not load" to stdout.
package bptt.backend.opencl;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OpenClLibraryProbeTest {
    @Test
    void aLibraryThatCannotBeOpenedIsReportedWithItsReasonAndNothingPrinted() {
        PrintStream out = System.out;
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
        String reason;
        try {
            reason = OpenClDevices.missingLibrary("libNoSuchOpenCL.so.1", "libNoSuchOpenCL.so");
        } finally {
            System.setOut(out);
        }
        assertTrue(reason != null && reason.contains("libNoSuchOpenCL.so.1") && reason.contains("libNoSuchOpenCL.so:"), reason);
        assertEquals("", printed.toString(StandardCharsets.UTF_8));
    }

    @Test
    void aLibraryThatOpensIsNotMissing() {
        assertEquals(null, OpenClDevices.missingLibrary("libc.so.6"));
    }
}
