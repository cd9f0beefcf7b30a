// A path the app does not know.
import { Stack, Text, Title } from "@mantine/core";
import { Link } from "react-router";

export default function NotFound() {
  return (
    <Stack>
      <Title order={3}>Page not found</Title>
      <Text>
        There is no page here. Start from the <Link to="/dashboards">dashboards</Link>.
      </Text>
    </Stack>
  );
}
