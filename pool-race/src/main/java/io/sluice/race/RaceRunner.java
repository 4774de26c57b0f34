package io.sluice.race;

import java.io.File;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import org.openjdk.jcstress.JCStress;
import org.openjdk.jcstress.Options;
import org.openjdk.jcstress.infra.Status;
import org.openjdk.jcstress.infra.collectors.DiskReadCollector;
import org.openjdk.jcstress.infra.collectors.InProcessCollector;
import org.openjdk.jcstress.infra.collectors.TestResult;

/**
 * Runs jcstress (same arguments as {@code org.openjdk.jcstress.Main}) and exits non-zero unless every
 * selected test ran and passed. jcstress's own exit code misses two cases that must fail a build: a test
 * whose state cannot even be built (jcstress reports it as a "soft error" and skips it) and a selection
 * that matches no test at all. Prints one line per test: its samples and how many of them each observed
 * outcome had.
 */
public final class RaceRunner {

    private RaceRunner() {
    }

    public static void main(String[] args) throws Exception {
        Options options = new Options(args);
        if (!options.parse()) {
            System.exit(2);
        }
        JCStress jcstress = new JCStress(options);
        SortedSet<String> selected = jcstress.getTests();
        List<String> problems = new ArrayList<>();
        if (selected.isEmpty()) {
            problems.add("no test matches -t " + options.getTestFilter());
        } else {
            try {
                jcstress.run();
            } catch (AssertionError failures) {
                // jcstress's verdict on FORBIDDEN outcomes and test errors; the checks below repeat it.
                problems.add("jcstress reported failures (see above)");
            }
        }

        Map<String, Map<String, Long>> outcomes = new TreeMap<>();
        SortedSet<String> passed = new TreeSet<>();
        File blob = new File(options.getResultFile());
        if (blob.exists()) {
            InProcessCollector collector = new InProcessCollector();
            DiskReadCollector reader = new DiskReadCollector(blob.getPath(), collector);
            try {
                reader.dump();
            } finally {
                reader.close();
            }
            for (TestResult result : collector.getTestResults()) {
                String name = result.getName();
                String config = name + " " + result.getConfig().jvmArgs;
                if (result.status() != Status.NORMAL) {
                    problems.add(config + ": " + result.status() + " " + result.getMessages());
                    continue;
                }
                if (!result.grading().isPassed) {
                    problems.add(config + ": " + result.grading().failureMessages);
                    continue;
                }
                passed.add(name);
                Map<String, Long> counts = outcomes.computeIfAbsent(name, n -> new TreeMap<>());
                for (String state : result.getStateKeys()) {
                    counts.merge(state, result.getCount(state), Long::sum);
                }
            }
        } else if (!selected.isEmpty()) {
            problems.add("no results file " + blob.getAbsolutePath());
        }
        for (String test : selected) {
            if (!passed.contains(test) && problems.stream().noneMatch(p -> p.startsWith(test + " "))) {
                problems.add(test + ": no result");
            }
        }

        System.out.println();
        System.out.println("Sluice race tests: samples per observed outcome");
        for (Map.Entry<String, Map<String, Long>> test : outcomes.entrySet()) {
            long total = test.getValue().values().stream().mapToLong(Long::longValue).sum();
            System.out.printf("  %-40s %,12d  %s%n", shortName(test.getKey()), total, test.getValue());
        }
        if (!problems.isEmpty()) {
            System.out.println();
            System.out.println("RACE TESTS FAILED:");
            problems.forEach(problem -> System.out.println("  " + problem));
            System.exit(1);
        }
        System.out.println("All " + selected.size() + " race tests passed.");
        System.exit(0);
    }

    private static String shortName(String test) {
        return test.substring(test.lastIndexOf('.') + 1);
    }
}
