// CoverageSummary: the share of a package's lines the test run executed, and the lines that never ran, from JaCoCo's XML.
package bptt.backend.cuda;

import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

import javax.xml.parsers.DocumentBuilderFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Reads {@code target/site/jacoco/jacoco.xml} after the tests and prints, for one package (the
 * build asks for {@code bptt/backend/cuda}), the percentage of its executable lines that ran
 * and, per source file, the line ranges that never ran; the same text goes to a file. Run by
 * the pom in the verify phase.
 */
public final class CoverageSummary {
    private CoverageSummary() { }

    /** Line ranges "12-15, 40" of a file whose lines never ran, or "" when every line ran. */
    static String ranges(List<Integer> lines) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < lines.size(); i++) {
            int first = lines.get(i);
            while (i + 1 < lines.size() && lines.get(i + 1) == lines.get(i) + 1) {
                i++;
            }
            out.append(out.length() == 0 ? "" : ", ").append(first).append(first == lines.get(i) ? "" : "-" + lines.get(i));
        }
        return out.toString();
    }

    /** The summary of package {@code pkg} in a JaCoCo XML report. */
    static String summarize(Path xml, String pkg) throws Exception {
        DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
        factory.setFeature("http://apache.org/xml/features/nonvalidating/load-external-dtd", false);
        Document doc = factory.newDocumentBuilder().parse(xml.toFile());
        NodeList packages = doc.getElementsByTagName("package");
        for (int p = 0; p < packages.getLength(); p++) {
            Element element = (Element) packages.item(p);
            if (element.getAttribute("name").equals(pkg)) {
                return summarize(element, pkg);
            }
        }
        return pkg + ": not in the coverage report (did its tests run?)";
    }

    private static String summarize(Element pkg, String name) {
        int covered = 0;
        int total = 0;
        StringBuilder files = new StringBuilder();
        NodeList sources = pkg.getElementsByTagName("sourcefile");
        for (int s = 0; s < sources.getLength(); s++) {
            Element source = (Element) sources.item(s);
            List<Integer> never = new ArrayList<>();
            NodeList lines = source.getElementsByTagName("line");
            for (int l = 0; l < lines.getLength(); l++) {
                Element line = (Element) lines.item(l);
                total++;
                if (Integer.parseInt(line.getAttribute("ci")) > 0) {
                    covered++;
                } else {
                    never.add(Integer.parseInt(line.getAttribute("nr")));
                }
            }
            if (!never.isEmpty()) {
                files.append("\n  ").append(source.getAttribute("name")).append(": ").append(ranges(never));
            }
        }
        return String.format(Locale.ROOT, "%s: %.1f%% of %d executable lines ran (%d never ran)%s", name,
                total == 0 ? 0.0 : 100.0 * covered / total, total, total - covered,
                files.length() == 0 ? "" : "; lines that never ran:" + files);
    }

    /** Arguments: jacoco.xml, package (e.g. bptt/backend/cuda), output file. */
    public static void main(String[] args) throws Exception {
        Path xml = Path.of(args[0]);
        String text = Files.exists(xml) ? "coverage " + summarize(xml, args[1])
                : "coverage: no " + xml + " (JaCoCo did not run)";
        System.out.println(text);
        Files.writeString(Path.of(args[2]), text + "\n", StandardCharsets.UTF_8);
    }
}
