package io.sluice.examples.demo;

import java.nio.file.Path;
import java.time.Duration;
import java.time.format.DateTimeParseException;

/**
 * The demo's flags. Each is {@code --name=value}; a bad one is refused with what was wrong and the usage.
 *
 * @param duration how long the load runs
 * @param tenants  how many tenants share the database pool (the first one floods)
 * @param rate     requests a second per quiet tenant
 * @param flood    how many times the quiet rate the flooding tenant sends
 * @param report   where the HTML report goes
 */
record DemoOptions(Duration duration, int tenants, int rate, int flood, Path report) {

    static final String USAGE = """
            Usage: demo [--duration=20s] [--tenants=3] [--rate=40] [--flood=10] [--report=PATH]
              --duration  how long the load runs (e.g. 20s, 1m, PT20S); default 20s
              --tenants   tenants sharing the database pool, 2 to 8; the first one floods; default 3
              --rate      requests a second per quiet tenant, 1 to 1000; default 40
              --flood     how many times that rate the flooding tenant sends, 1 to 100; default 10
              --report    where the HTML report is written; default target/sluice-demo-report.html
              --help      this text
            The database is SLUICE_PG_URL when set, otherwise an embedded H2.""";

    /** Thrown for a bad flag; its message names the flag, the value and the rule. */
    static final class BadFlag extends RuntimeException {
        private static final long serialVersionUID = 1L;

        BadFlag(String message) {
            super(message);
        }
    }

    /** Thrown for {@code --help}. */
    static final class HelpAsked extends RuntimeException {
        private static final long serialVersionUID = 1L;

        HelpAsked() {
            super("help");
        }
    }

    static DemoOptions parse(String... args) {
        Duration duration = Duration.ofSeconds(20);
        int tenants = 3;
        int rate = 40;
        int flood = 10;
        Path report = Path.of("target", "sluice-demo-report.html");
        for (String arg : args) {
            if (arg.equals("--help") || arg.equals("-h")) {
                throw new HelpAsked();
            }
            int equals = arg.indexOf('=');
            if (!arg.startsWith("--") || equals < 0) {
                throw new BadFlag("unknown argument '" + arg + "': flags are --name=value");
            }
            String name = arg.substring(2, equals);
            String value = arg.substring(equals + 1);
            switch (name) {
                case "duration" -> duration = duration(value);
                case "tenants" -> tenants = number(name, value, 2, 8);
                case "rate" -> rate = number(name, value, 1, 1000);
                case "flood" -> flood = number(name, value, 1, 100);
                case "report" -> report = Path.of(value);
                default -> throw new BadFlag("unknown flag '--" + name + "'");
            }
        }
        return new DemoOptions(duration, tenants, rate, flood, report);
    }

    private static int number(String name, String value, int low, int high) {
        int parsed;
        try {
            parsed = Integer.parseInt(value);
        } catch (NumberFormatException e) {
            throw new BadFlag("--" + name + " '" + value + "' must be a whole number");
        }
        if (parsed < low || parsed > high) {
            throw new BadFlag("--" + name + " " + parsed + " must be between " + low + " and " + high);
        }
        return parsed;
    }

    private static Duration duration(String value) {
        Duration parsed;
        try {
            String lower = value.toLowerCase();
            if (lower.endsWith("ms")) {
                parsed = Duration.ofMillis(Long.parseLong(lower.substring(0, lower.length() - 2)));
            } else if (lower.endsWith("s")) {
                parsed = Duration.ofSeconds(Long.parseLong(lower.substring(0, lower.length() - 1)));
            } else if (lower.endsWith("m")) {
                parsed = Duration.ofMinutes(Long.parseLong(lower.substring(0, lower.length() - 1)));
            } else {
                parsed = Duration.parse(value);
            }
        } catch (NumberFormatException | DateTimeParseException e) {
            throw new BadFlag("--duration '" + value + "' must be a duration such as 20s, 1m or PT20S");
        }
        if (parsed.compareTo(Duration.ofSeconds(1)) < 0 || parsed.compareTo(Duration.ofHours(1)) > 0) {
            throw new BadFlag("--duration " + value + " must be between 1s and 1h");
        }
        return parsed;
    }
}
