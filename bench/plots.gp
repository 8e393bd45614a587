# Drain-rate plots from the data files bench/report.py writes (run in the results directory).
set terminal pngcairo size 800,500 font ",10" noenhanced
set grid
set key top left
set yrange [0:*]
set ylabel "tasks/s (median, bars: min-max)"

set output "drain_vs_workers.png"
set title "pgtq drain of queued no-op tasks vs pgtqd --concurrency"
set xlabel "pgtqd --concurrency (worker threads)"
set logscale x 2
set xtics (1, 2, 4, 8, 16, 32, 64)
plot "drain_vs_workers.dat" using 1:2:3:4 with yerrorlines lw 2 pt 7 title "pgtq (this run)", \
     "" using 1:5 with lines dt 2 lw 2 title "pgbench floor: claim 100 + one DELETE (this run)", \
     "" using 1:6 with lines dt 3 lw 2 title "graphile-worker 0.18 best (another run)"

set output "drain_vs_history.png"
set title "pgtq drain rate vs finished tasks kept in history (concurrency 16)"
set xlabel "finished tasks in pgtq.finished_tasks"
unset logscale x
set xtics auto
set format x "%.0s%c"
plot "drain_vs_history.dat" using 1:2:3:4 with yerrorlines lw 2 pt 7 title "pgtq (this run)"
