// The routes: one page per path, each named in the navigation bar.
import { lazy, Suspense } from "react";
import { Navigate, Route, Routes } from "react-router";
import { Layout } from "./components/Layout";
import { Loading } from "./components/QueryState";

const Explore = lazy(() => import("./pages/Explore"));
const Logs = lazy(() => import("./pages/Logs"));
const Traces = lazy(() => import("./pages/Traces"));
const TraceView = lazy(() => import("./pages/TraceView"));
const ServiceMap = lazy(() => import("./pages/ServiceMap"));
const Alerts = lazy(() => import("./pages/Alerts"));
const Slos = lazy(() => import("./pages/Slos"));
const Investigate = lazy(() => import("./pages/Investigate"));
const Dashboards = lazy(() => import("./pages/Dashboards"));
const DashboardPage = lazy(() => import("./pages/DashboardPage"));
const NotFound = lazy(() => import("./pages/NotFound"));

export function App() {
  return (
    <Layout>
      <Suspense fallback={<Loading what="page" />}>
        <Routes>
          <Route path="/" element={<Navigate to="/dashboards" replace />} />
          <Route path="/explore/*" element={<Explore />} />
          <Route path="/logs/*" element={<Logs />} />
          <Route path="/traces" element={<Traces />} />
          <Route path="/traces/:id" element={<TraceView />} />
          <Route path="/service-map/*" element={<ServiceMap />} />
          <Route path="/alerts/*" element={<Alerts />} />
          <Route path="/slos/*" element={<Slos />} />
          <Route path="/investigate/*" element={<Investigate />} />
          <Route path="/dashboards" element={<Dashboards />} />
          <Route path="/dashboards/:uid/*" element={<DashboardPage />} />
          <Route path="*" element={<NotFound />} />
        </Routes>
      </Suspense>
    </Layout>
  );
}
