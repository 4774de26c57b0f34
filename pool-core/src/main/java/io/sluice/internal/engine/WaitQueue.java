package io.sluice.internal.engine;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The acquires waiting for a resource: first come, first served, and each one removable at once.
 *
 * <p>Two views of the same waiters, kept under one lock: a doubly linked list in arrival order, which the
 * drain loop serves from its head, and a binary heap by deadline, which the deadline sweeper pops from.
 * Adding, removing a cancelled waiter and expiring one are all O(log n), so a storm of N cancellations or
 * timeouts costs O(N log N), and a cancelled waiter leaves at once instead of holding its subscriber
 * until it reaches the head.
 *
 * <p>Arrivals take no lock. A new waiter is pushed onto an inbox, a stack changed by one compare-and-set,
 * and whoever next holds the lock (the drain loop taking a waiter, a cancel, the deadline sweeper) moves the
 * inbox into the list and the heap first, oldest first. Under load every acquire that finds nothing idle
 * arrives here while the drain loop takes waiters out; with a lock on the arrival path, a thread preempted
 * while holding it stalled every arrival and every hand-over behind it for a scheduler quantum, which is
 * what a service's p99 showed on two cores. The lock now guards only the list and the heap.
 *
 * <p>The lock is an object monitor held for a few pointer moves and never across a call out: waiters
 * are settled (their subscribers signalled) only after it is released. Only acquires that found nothing
 * idle come here; the fast path never touches it. {@link #pending} counts the waiters in the inbox and
 * the list, for lock-free reads: releasers read it on every release to decide whether anyone needs waking.
 * It may read -1 for an instant (see {@link #add}), which means nobody is waiting.
 */
final class WaitQueue<R> {

    private static final VarHandle INBOX;

    static {
        try {
            INBOX = MethodHandles.lookup().findVarHandle(WaitQueue.class, "inbox", AcquireOperation.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    final AtomicInteger pending = new AtomicInteger();

    /** The newest arrival not yet in the list; older ones follow through their {@code next} links. */
    @SuppressWarnings("unused") // through INBOX
    private volatile AcquireOperation<R> inbox;

    private AcquireOperation<R> head;
    private AcquireOperation<R> tail;
    @SuppressWarnings("unchecked")
    private AcquireOperation<R>[] heap = new AcquireOperation[16];
    private int size;

    /**
     * Appends {@code op} (whose deadline is set) at the tail, without a lock: it joins the inbox, and the
     * next locked operation moves it into the list. Its {@code next} link serves the inbox until then.
     */
    void add(AcquireOperation<R> op) {
        op.prev = null;
        AcquireOperation<R> newest;
        do {
            newest = inbox;
            op.next = newest;
        } while (!INBOX.compareAndSet(this, newest, op));
        // Counted after it is in: a count never promises a waiter that a taker cannot find yet (the drain
        // loop would claim a resource for nobody, over and over). A taker may take it before it is counted,
        // so the count can dip to -1 for that moment; readers treat that as nobody waiting.
        pending.incrementAndGet();
    }

    /** Moves the inbox into the list and the heap, oldest first; only under the lock. */
    @SuppressWarnings("unchecked")
    private void absorb() {
        AcquireOperation<R> newest = (AcquireOperation<R>) INBOX.getAndSet(this, null);
        if (newest == null) {
            return;
        }
        AcquireOperation<R> oldest = null;
        while (newest != null) { // reverse the stack into arrival order
            AcquireOperation<R> older = newest.next;
            newest.next = oldest;
            oldest = newest;
            newest = older;
        }
        while (oldest != null) {
            AcquireOperation<R> newer = oldest.next;
            link(oldest);
            oldest = newer;
        }
    }

    private void link(AcquireOperation<R> op) {
        op.prev = tail;
        op.next = null;
        if (tail == null) {
            head = op;
        } else {
            tail.next = op;
        }
        tail = op;
        if (size == heap.length) {
            heap = Arrays.copyOf(heap, size * 2);
        }
        heap[size] = op;
        op.heapIndex = size;
        size++;
        siftUp(op.heapIndex);
    }

    /** Takes {@code op} out, if it is still in; true if this call took it out. */
    boolean remove(AcquireOperation<R> op) {
        synchronized (this) {
            absorb();
            if (op.heapIndex < 0) {
                return false;
            }
            unlink(op);
            pending.decrementAndGet();
            return true;
        }
    }

    /**
     * Takes the oldest waiter still WAITING and moves it to {@code next} (HANDING or CHECKING), in one
     * lock: the drain loop's one queue operation per hand-over. Waiters met on the way whose deadline has
     * passed are moved to DONE and added to {@code expired}, for the caller to fail outside the lock;
     * waiters settled elsewhere are unlinked. Null when no waiter is left.
     */
    AcquireOperation<R> take(int next, long now, List<AcquireOperation<R>> expired) {
        synchronized (this) {
            absorb();
            for (AcquireOperation<R> op = head; op != null; op = head) {
                unlink(op);
                pending.decrementAndGet();
                if (op.deadline - now <= 0) {
                    if (op.compareAndSet(AcquireOperation.WAITING, AcquireOperation.DONE)) {
                        expired.add(op);
                    }
                } else if (op.compareAndSet(AcquireOperation.WAITING, next)) {
                    return op;
                }
            }
            return null;
        }
    }

    /** The oldest waiter, or null. */
    AcquireOperation<R> peek() {
        synchronized (this) {
            absorb();
            return head;
        }
    }

    /** The waiters in arrival order, copied (for a close, or for failing the oldest). */
    List<AcquireOperation<R>> snapshot() {
        List<AcquireOperation<R>> all = new ArrayList<>();
        synchronized (this) {
            absorb();
            for (AcquireOperation<R> op = head; op != null; op = op.next) {
                all.add(op);
            }
        }
        return all;
    }

    /** Takes out every waiter whose deadline is at or before {@code now}, earliest first. */
    List<AcquireOperation<R>> expired(long now) {
        List<AcquireOperation<R>> expired = null;
        synchronized (this) {
            absorb();
            while (size > 0 && heap[0].deadline - now <= 0) {
                AcquireOperation<R> op = heap[0];
                unlink(op);
                pending.decrementAndGet();
                if (expired == null) {
                    expired = new ArrayList<>();
                }
                expired.add(op);
            }
        }
        return expired == null ? List.of() : expired;
    }

    /** The earliest deadline among the waiters, or {@code Long.MAX_VALUE} if there are none. */
    long earliestDeadline() {
        synchronized (this) {
            absorb();
            return size == 0 ? Long.MAX_VALUE : heap[0].deadline;
        }
    }

    int size() {
        synchronized (this) {
            absorb();
            return size;
        }
    }

    private void unlink(AcquireOperation<R> op) {
        AcquireOperation<R> prev = op.prev;
        AcquireOperation<R> next = op.next;
        if (prev == null) {
            head = next;
        } else {
            prev.next = next;
        }
        if (next == null) {
            tail = prev;
        } else {
            next.prev = prev;
        }
        op.prev = null;
        op.next = null;
        int index = op.heapIndex;
        op.heapIndex = -1;
        size--;
        if (index != size) {
            AcquireOperation<R> last = heap[size];
            heap[index] = last;
            last.heapIndex = index;
            heap[size] = null;
            siftDown(index);
            siftUp(last.heapIndex);
        } else {
            heap[size] = null;
        }
    }

    private void siftUp(int index) {
        AcquireOperation<R> op = heap[index];
        while (index > 0) {
            int parent = (index - 1) >>> 1;
            AcquireOperation<R> above = heap[parent];
            if (above.deadline - op.deadline <= 0) {
                break;
            }
            heap[index] = above;
            above.heapIndex = index;
            index = parent;
        }
        heap[index] = op;
        op.heapIndex = index;
    }

    private void siftDown(int index) {
        AcquireOperation<R> op = heap[index];
        int half = size >>> 1;
        while (index < half) {
            int child = 2 * index + 1;
            int right = child + 1;
            if (right < size && heap[right].deadline - heap[child].deadline < 0) {
                child = right;
            }
            if (op.deadline - heap[child].deadline <= 0) {
                break;
            }
            heap[index] = heap[child];
            heap[index].heapIndex = index;
            index = child;
        }
        heap[index] = op;
        op.heapIndex = index;
    }
}
