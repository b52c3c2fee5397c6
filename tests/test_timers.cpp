// SPDX-License-Identifier: MIT
// Checks that core::timer_queue fires timers in (deadline, start) order, each once,
// against a std::multimap model; that stop and restart work from anywhere, inside
// callbacks included; that wait_ms never lets the loop wake early; and that start
// and stop never allocate.
#include "core/drivers.h"
#include "core/timers.h"
#include "tests/support.h"

#include <climits>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <vector>

using openwws::core::timer;
using openwws::core::timer_queue;
using namespace std::chrono_literals;

namespace {

const timer_queue::time_point t0{};  // tests run on a clock of their own, from 0

// A timer's owner: its callback appends its id to log, then runs then (if set).
struct probe {
  timer t{this};
  int id = 0;
  std::vector<int>* log = nullptr;
  std::function<void(probe&)> then;
};

void record(timer& t) noexcept {
  auto& p = *static_cast<probe*>(t.owner());
  p.log->push_back(p.id);
  if (p.then) p.then(p);
}

struct fixture {
  timer_queue q;
  std::vector<int> log;
  std::vector<probe> probes;
  explicit fixture(std::size_t n) : probes(n) {
    for (std::size_t i = 0; i < n; ++i) {
      probes[i].id = static_cast<int>(i);
      probes[i].log = &log;
    }
  }
  ~fixture() {  // owners stop their timers before they go
    for (auto& p : probes) q.stop(p.t);
  }
  void start(int id, timer_queue::time_point deadline) { q.start(probes[id].t, deadline, record); }
};

}  // namespace

TEST_SUITE("timers") {

TEST_CASE("random_deadlines_fire_in_order_of_multimap_model") {
  // multimap keeps equal keys in insertion order: the start order the queue promises.
  constexpr int n = 10'000;
  fixture f(n);
  std::multimap<timer_queue::time_point, int> model;
  std::vector<std::optional<decltype(model)::iterator>> in_model(n);
  std::mt19937 rng(20240609);
  std::vector<int> expected;
  auto now = t0;
  for (int step = 0; step < 60'000; ++step) {
    int id = static_cast<int>(rng() % n);
    unsigned what = rng() % 100;
    if (what < 65) {  // start or restart; 1 ms granularity over 2 s makes many ties
      auto deadline = now + std::chrono::milliseconds(rng() % 2000);
      f.start(id, deadline);
      if (in_model[id]) model.erase(*in_model[id]);
      in_model[id] = model.emplace(deadline, id);
    } else if (what < 90) {
      f.q.stop(f.probes[id].t);
      if (in_model[id]) model.erase(*in_model[id]);
      in_model[id].reset();
    } else {
      now += std::chrono::milliseconds(rng() % 50);
      auto fired_before = f.log.size();
      while (!model.empty() && model.begin()->first <= now) {
        expected.push_back(model.begin()->second);
        in_model[model.begin()->second].reset();
        model.erase(model.begin());
      }
      auto fired = f.q.run_due(now);
      CHECK(fired == f.log.size() - fired_before);
    }
    CHECK(f.q.armed(f.probes[id].t) == in_model[id].has_value());
    REQUIRE(f.q.size() == model.size());
    REQUIRE(f.q.next_deadline() == (model.empty() ? std::nullopt : std::optional(model.begin()->first)));
  }
  for (auto& [deadline, id] : model) expected.push_back(id);
  f.q.run_due(timer_queue::time_point::max());
  REQUIRE(f.log.size() == expected.size());
  CHECK(f.log == expected);
  CHECK(f.q.size() == 0);
  CHECK(f.q.wait_ms(now) == -1);
}

TEST_CASE("equal_deadlines_fire_in_start_order") {
  fixture f(5);
  for (int id : {3, 1, 4, 0, 2}) f.start(id, t0 + 7ms);
  f.start(1, t0 + 7ms);  // a restart counts as the latest start
  CHECK(f.q.run_due(t0 + 7ms) == 5);
  CHECK(f.log == std::vector<int>{3, 4, 0, 2, 1});
}

TEST_CASE("stop_before_deadline_keeps_timer_from_firing") {
  fixture f(3);
  for (int id : {0, 1, 2}) f.start(id, t0 + std::chrono::milliseconds(id + 1));
  f.q.stop(f.probes[1].t);
  CHECK_FALSE(f.q.armed(f.probes[1].t));
  CHECK(f.q.run_due(t0 + 10ms) == 2);
  CHECK(f.log == std::vector<int>{0, 2});
}

TEST_CASE("stop_of_unarmed_timer_does_nothing") {
  fixture f(2);
  f.q.stop(f.probes[0].t);  // never started
  f.start(1, t0 + 1ms);
  f.q.run_due(t0 + 1ms);
  f.q.stop(f.probes[1].t);  // already fired
  f.q.stop(f.probes[1].t);
  CHECK(f.q.size() == 0);
  CHECK(f.q.run_due(timer_queue::time_point::max()) == 0);
  CHECK(f.log == std::vector<int>{1});
}

TEST_CASE("restart_while_armed_moves_deadline") {
  fixture f(2);
  f.start(0, t0 + 1ms);
  f.start(1, t0 + 2ms);
  f.start(0, t0 + 3ms);
  CHECK(f.q.size() == 2);
  CHECK(f.q.next_deadline() == t0 + 2ms);
  CHECK(f.q.run_due(t0 + 2ms) == 1);
  f.start(1, t0 + 1ms);  // and earlier again
  CHECK(f.q.run_due(t0 + 3ms) == 2);
  CHECK(f.log == std::vector<int>{1, 1, 0});
}

TEST_CASE("callback_stops_or_restarts_itself") {
  fixture f(2);
  f.probes[0].then = [&](probe& p) {
    CHECK_FALSE(f.q.armed(p.t));  // disarmed before its callback
    f.q.stop(p.t);
  };
  int rearms = 0;
  f.probes[1].then = [&](probe& p) {  // re-arms at now: must not loop in one pass
    if (++rearms < 3) f.q.start(p.t, t0, record);
  };
  f.start(0, t0);
  f.start(1, t0);
  CHECK(f.q.run_due(t0) == 2);
  CHECK(f.q.wait_ms(t0) == 0);  // the re-armed timer is due: the loop must not sleep
  CHECK(f.q.run_due(t0) == 1);
  CHECK(f.q.run_due(t0) == 1);
  CHECK(f.q.run_due(t0) == 0);
  CHECK(f.log == std::vector<int>{0, 1, 1, 1});
}

TEST_CASE("callback_stops_restarts_and_starts_others") {
  fixture f(6);
  f.probes[0].then = [&](probe&) {
    f.q.stop(f.probes[1].t);       // due in this pass: it must not fire
    f.q.start(f.probes[2].t, t0 + 9ms, record);  // due in this pass: moved past it
    f.q.stop(f.probes[3].t);       // not due yet
    f.start(4, t0);                // new and already due: fires in the next pass
    f.start(5, t0 + 2ms);          // new, due later in this pass: still waits a pass
  };
  for (int id : {0, 1, 2}) f.start(id, t0 + std::chrono::milliseconds(id));
  f.start(3, t0 + 8ms);
  CHECK(f.q.run_due(t0 + 5ms) == 1);
  CHECK(f.log == std::vector<int>{0});
  CHECK(f.q.armed(f.probes[2].t));
  CHECK_FALSE(f.q.armed(f.probes[1].t));
  CHECK(f.q.run_due(t0 + 5ms) == 2);
  CHECK(f.q.run_due(t0 + 9ms) == 1);
  CHECK(f.log == std::vector<int>{0, 4, 5, 2});
}

TEST_CASE("callback_may_free_a_due_timer_after_stopping_it") {
  // A channel closed from another timer's callback frees its own timer: run_due must
  // not touch it afterwards (ASan would say so).
  timer_queue q;
  std::vector<int> log;
  auto owner = std::make_unique<probe>();
  owner->id = 1;
  owner->log = &log;
  probe killer;
  killer.log = &log;
  killer.then = [&](probe&) {
    q.stop(owner->t);
    owner.reset();
  };
  q.start(killer.t, t0, record);
  q.start(owner->t, t0, record);
  CHECK(q.run_due(t0) == 1);
  CHECK(log == std::vector<int>{0});
  CHECK(q.size() == 0);
}

TEST_CASE("wait_ms_rounds_up_and_is_minus_one_when_empty") {
  fixture f(1);
  const auto now = t0 + 1h;
  CHECK(f.q.wait_ms(now) == -1);
  CHECK(f.q.next_deadline() == std::nullopt);
  auto wait_for = [&](timer_queue::time_point deadline) {
    f.start(0, deadline);
    return f.q.wait_ms(now);
  };
  CHECK(wait_for(now - 1s) == 0);
  CHECK(wait_for(now) == 0);
  CHECK(wait_for(now + 1ns) == 1);
  CHECK(wait_for(now + 1ms) == 1);
  CHECK(wait_for(now + 1ms + 1ns) == 2);
  CHECK(wait_for(now + 1500us) == 2);
  CHECK(wait_for(now + 24h * 365 * 100) == INT_MAX);
  CHECK(wait_for(timer_queue::time_point::max()) == INT_MAX);
  CHECK(f.q.next_deadline() == timer_queue::time_point::max());
  f.q.stop(f.probes[0].t);
  CHECK(f.q.wait_ms(now) == -1);
}

TEST_CASE("start_and_stop_allocate_nothing") {
  using openwws::test::allocations_in_this_thread;
  auto before = allocations_in_this_thread();
  ::operator delete(::operator new(16));
  REQUIRE(allocations_in_this_thread() == before + 1);  // the counter sees allocations

  constexpr int n = 1000;
  fixture f(n);
  f.log.reserve(n);  // the recording callback must not allocate either
  std::mt19937 rng(7);
  before = allocations_in_this_thread();
  for (int id = 0; id < n; ++id) f.start(id, t0 + std::chrono::milliseconds(rng() % 100));
  for (int id = 0; id < n; id += 3) f.start(id, t0 + std::chrono::milliseconds(rng() % 100));
  for (int id = 0; id < n; id += 2) f.q.stop(f.probes[id].t);
  auto fired = f.q.run_due(t0 + 100ms);
  CHECK(allocations_in_this_thread() == before);
  CHECK(fired == n / 2);
}

}  // TEST_SUITE("timers")

// ---- the loop's timers ---------------------------------------------------------------

namespace {

using openwws::core::command;
using openwws::core::owner_of;
using openwws::core::loop;
using openwws::core::thread_loop;

// Starts two timers from the loop thread: `late` at +30 ms, `stopped` at +10 ms, which
// a third timer at +5 ms stops. Only `late` and the stopper fire, late not early.
struct loop_timers {
  loop* rt = nullptr;
  command start_cmd;
  timer late{this}, stopped{this}, stopper{this};
  std::chrono::steady_clock::time_point started;
  std::atomic<int> late_fired{0}, stopped_fired{0}, stopper_fired{0};
  std::atomic<long long> late_after_us{0};
  std::atomic<bool> on_loop_thread{true};

  static void run_start(command& c) noexcept {
    auto& self = owner_of(c, &loop_timers::start_cmd);
    self.started = std::chrono::steady_clock::now();
    auto& q = self.rt->timers();
    q.start(self.late, self.started + 30ms, [](timer& t) noexcept {
      auto& s = *static_cast<loop_timers*>(t.owner());
      s.on_loop_thread = s.on_loop_thread && s.rt->on_loop_thread();
      s.late_after_us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                                              s.started)
                            .count();
      s.late_fired++;
    });
    q.start(self.stopped, self.started + 10ms, [](timer& t) noexcept {
      static_cast<loop_timers*>(t.owner())->stopped_fired++;
    });
    q.start(self.stopper, self.started + 5ms, [](timer& t) noexcept {
      auto& s = *static_cast<loop_timers*>(t.owner());
      s.rt->timers().stop(s.stopped);
      s.stopper_fired++;
    });
  }
};

}  // namespace

TEST_CASE("loop_timers_bound_the_wait_fire_on_the_loop_thread_and_stop" * doctest::test_suite("timers")) {
  loop_timers lt;
  REQUIRE(thread_loop::acquire(lt.rt, nullptr) == S_OK);
  REQUIRE(lt.rt->check_usable(nullptr, "test") == S_OK);
  lt.start_cmd.run = loop_timers::run_start;
  lt.rt->post(lt.start_cmd);
  // Nothing else wakes the loop: only the timers' deadlines can end its wait.
  CHECK(openwws::test::wait_until([&] { return lt.late_fired.load() == 1; }, 5s));
  std::this_thread::sleep_for(20ms);
  CHECK(lt.late_fired.load() == 1);
  CHECK(lt.stopper_fired.load() == 1);
  CHECK(lt.stopped_fired.load() == 0);
  CHECK(lt.on_loop_thread.load());
  CHECK(lt.late_after_us.load() >= 30000);
  lt.rt->release();
}
