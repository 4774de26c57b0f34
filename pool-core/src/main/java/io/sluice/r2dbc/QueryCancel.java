package io.sluice.r2dbc;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.Wrapped;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import org.reactivestreams.Publisher;

/**
 * Cancels what a connection's server is running for it, where the driver offers a way: r2dbc-postgresql's
 * {@code cancelRequest()} (PostgreSQL's cancel request, sent on a connection of its own). The method is
 * found on the driver's public interface by reflection, so Sluice needs no driver at compile time; a
 * driver without one gets null, and the pool waits for the work to end instead.
 */
final class QueryCancel {

    private static final ClassValue<Method> CANCEL = new ClassValue<>() {
        @Override
        protected Method computeValue(Class<?> type) {
            return publicCancelRequest(type);
        }
    };

    private QueryCancel() {
    }

    /** The driver's cancel for {@code connection}, or null when its driver has none. */
    @SuppressWarnings("unchecked")
    static Publisher<Void> of(Connection connection) {
        Object target = connection;
        for (int depth = 0; depth < 8 && target != null; depth++) {
            Method cancel = CANCEL.get(target.getClass());
            if (cancel != null) {
                try {
                    return (Publisher<Void>) cancel.invoke(target);
                } catch (ReflectiveOperationException | RuntimeException failed) {
                    return null;
                }
            }
            target = target instanceof Wrapped<?> wrapped ? wrapped.unwrap() : null;
        }
        return null;
    }

    /** A public {@code cancelRequest()} returning a Publisher, declared by a public type {@code type} has. */
    private static Method publicCancelRequest(Class<?> type) {
        for (Class<?> c = type; c != null; c = c.getSuperclass()) {
            Method found = declared(c);
            if (found != null) {
                return found;
            }
            for (Class<?> face : c.getInterfaces()) {
                found = declared(face);
                if (found != null) {
                    return found;
                }
            }
        }
        return null;
    }

    private static Method declared(Class<?> type) {
        if (!Modifier.isPublic(type.getModifiers())) {
            return null;
        }
        try {
            Method method = type.getMethod("cancelRequest");
            return Publisher.class.isAssignableFrom(method.getReturnType()) ? method : null;
        } catch (NoSuchMethodException none) {
            return null;
        }
    }
}
