#include "refresher/signal_deferral.h"

#include <pthread.h>

#include <cerrno>
#include <ctime>
#include <initializer_list>

namespace ckh {

DeferredStopSignals::DeferredStopSignals(InheritedIgnore ignored) {
  sigemptyset(&signals_);
  for (const int signal_number : {SIGTERM, SIGINT, SIGHUP}) {
    struct sigaction current {};
    // A blocked signal is never discarded, even when ignored: it would stay pending and be
    // taken as a stop. Left unblocked, an ignored one is dropped by the kernel as before.
    if (ignored == InheritedIgnore::stays_ignored &&
        ::sigaction(signal_number, nullptr, &current) == 0 && current.sa_handler == SIG_IGN) {
      continue;
    }
    sigaddset(&signals_, signal_number);
  }
  pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
}

int DeferredStopSignals::wait() const {
  for (;;) {
    siginfo_t info{};
    const int signal_number = ::sigwaitinfo(&signals_, &info);
    if (signal_number > 0) return signal_number;
    if (errno != EINTR) return 0;
  }
}

int DeferredStopSignals::take() const {
  const timespec no_wait{0, 0};
  for (;;) {
    siginfo_t info{};
    const int signal_number = ::sigtimedwait(&signals_, &info, &no_wait);
    if (signal_number > 0) return signal_number;
    if (errno != EINTR) return 0;  // EAGAIN: none pending
  }
}

}  // namespace ckh
